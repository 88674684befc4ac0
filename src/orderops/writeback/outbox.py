"""Enqueueing external effects in the caller's transaction (the transactional outbox).

An approved action writes its outbox rows through the same unit of work as the approval,
so either both commit or neither does; the idempotency key is fixed here, at decision
time, and travels with every retry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderops.domain.errors import Conflict
from orderops.storage.base import new_id
from orderops.storage.repositories._dialect import insert_if_absent
from orderops.storage.tables import OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.telemetry import tracing
from orderops.writeback.states import OutboxStatus

__all__ = ["DuplicateEffect", "OutboxStatus", "enqueue"]


class DuplicateEffect(Conflict):
    """An effect with this idempotency key is already queued: the decision was taken before."""

    code = "duplicate-effect"


def enqueue(
    uow: UnitOfWork,
    *,
    system: str,
    operation: str,
    idempotency_key: str,
    payload: dict[str, Any],
    now: datetime,
    action_id: str | None = None,
    case_id: str | None = None,
    order_ref: str | None = None,
) -> str:
    """Queue one external effect; raise DuplicateEffect if its key is already queued.

    ``case_id`` and ``order_ref`` say what the effect is about, so operators can find every
    writeback of a case or an order, and a conflict can send the case back for review.
    """
    message_id = new_id()
    inserted = insert_if_absent(
        uow.session,
        OutboxMessage.__table__,  # type: ignore[arg-type]
        {
            "id": message_id,
            "tenant_id": uow.tenant_id,
            "action_id": action_id,
            "case_id": case_id,
            "order_ref": order_ref,
            "system": system,
            "operation": operation,
            "idempotency_key": idempotency_key,
            "payload": tracing.stamp(payload),  # the trace goes on at delivery
            "status": str(OutboxStatus.PENDING),
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    if not inserted:
        raise DuplicateEffect(f"an effect with idempotency key {idempotency_key} is already queued")
    uow.audit.append(
        at=now,
        actor="outbox",
        action="writeback.queued",
        entity_type="outbox",
        entity_id=message_id,
        data={
            "system": system,
            "operation": operation,
            "idempotency_key": idempotency_key,
            "action_id": action_id,
            "case_id": case_id,
            "order_ref": order_ref,
        },
    )
    return message_id
