"""What operators do with the outbox: find messages and attempts, retry, cancel.

The API and the CLI both call these, so an operator's retry is audited the same way
wherever it comes from. Retrying restarts the give-up count but keeps the history
(attempt numbers keep counting); cancelling is refused while a worker holds the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select

from orderops.domain.errors import NotFound
from orderops.storage.repositories import keyset
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.writeback import WritebackAttempt
from orderops.storage.uow import UnitOfWork
from orderops.writeback.states import OutboxStatus, check_outbox_move


@dataclass(frozen=True, kw_only=True)
class OutboxFilter:
    system: str | None = None
    status: str | None = None
    case_id: str | None = None
    order_ref: str | None = None


@dataclass(frozen=True)
class OutboxPage:
    items: list[OutboxMessage]
    total: int


def list_messages(
    uow: UnitOfWork,
    where: OutboxFilter,
    *,
    limit: int = 50,
    offset: int = 0,
    after: Sequence[object] | None = None,
) -> OutboxPage:
    """Newest first; ``after`` (created_at, id) starts the page after that row."""
    query = select(OutboxMessage).where(*_conditions(uow.tenant_id, where))
    total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    newest = keyset.SortPart(OutboxMessage.created_at, descending=True)
    order = (newest, keyset.SortPart(OutboxMessage.id))
    if after is not None:
        query = query.where(keyset.after(order, after))
    items = uow.session.scalars(
        query.order_by(*keyset.ordering(order)).limit(limit).offset(offset)
    ).all()
    return OutboxPage(items=list(items), total=total)


def get_message(uow: UnitOfWork, message_id: str) -> OutboxMessage:
    message = uow.session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.tenant_id == uow.tenant_id, OutboxMessage.id == message_id
        )
    )
    if message is None:
        raise NotFound(f"no outbox message {message_id}")
    return message


def attempts_of(uow: UnitOfWork, message_id: str) -> list[WritebackAttempt]:
    return list(
        uow.session.scalars(
            select(WritebackAttempt)
            .where(
                WritebackAttempt.tenant_id == uow.tenant_id,
                WritebackAttempt.message_id == message_id,
            )
            .order_by(WritebackAttempt.number)
        )
    )


def search_attempts(
    uow: UnitOfWork, where: OutboxFilter, *, limit: int = 100
) -> list[tuple[WritebackAttempt, OutboxMessage]]:
    """Attempts of the messages matching ``where`` (by case, order, system), newest first."""
    query = (
        select(WritebackAttempt, OutboxMessage)
        .join(OutboxMessage, OutboxMessage.id == WritebackAttempt.message_id)
        .where(*_conditions(uow.tenant_id, where))
    )
    rows = uow.session.execute(
        query.order_by(WritebackAttempt.started_at.desc(), WritebackAttempt.number.desc()).limit(
            limit
        )
    )
    return [(attempt, message) for attempt, message in rows]


def retry_message(uow: UnitOfWork, message_id: str, *, actor: str, now: datetime) -> OutboxMessage:
    """Queue a failed, conflicted or cancelled message again, due now."""
    message = get_message(uow, message_id)
    before = OutboxStatus(message.status)
    message.status = str(check_outbox_move(before, OutboxStatus.PENDING))
    message.next_attempt_at = now
    message.attempts_at_retry = message.attempts
    message.completed_at = None
    message.dead_letter_reason = None
    _audit(uow, message, "writeback.retried", actor=actor, now=now, before=before)
    return message


def cancel_message(uow: UnitOfWork, message_id: str, *, actor: str, now: datetime) -> OutboxMessage:
    """Stop a message that has not been delivered; a leased one must be left to its worker."""
    message = get_message(uow, message_id)
    before = OutboxStatus(message.status)
    message.status = str(check_outbox_move(before, OutboxStatus.CANCELLED))
    message.completed_at = now
    _audit(uow, message, "writeback.cancelled", actor=actor, now=now, before=before)
    return message


def _conditions(tenant_id: str, where: OutboxFilter) -> list[ColumnElement[bool]]:
    conditions = [OutboxMessage.tenant_id == tenant_id]
    if where.system is not None:
        conditions.append(OutboxMessage.system == where.system)
    if where.status is not None:
        conditions.append(OutboxMessage.status == where.status)
    if where.case_id is not None:
        conditions.append(OutboxMessage.case_id == where.case_id)
    if where.order_ref is not None:
        conditions.append(OutboxMessage.order_ref == where.order_ref)
    return conditions


def _audit(
    uow: UnitOfWork,
    message: OutboxMessage,
    action: str,
    *,
    actor: str,
    now: datetime,
    before: OutboxStatus,
) -> None:
    uow.audit.append(
        at=now,
        actor=actor,
        action=action,
        entity_type="outbox",
        entity_id=message.id,
        data={
            "from": str(before),
            "to": message.status,
            "idempotency_key": message.idempotency_key,
        },
    )
