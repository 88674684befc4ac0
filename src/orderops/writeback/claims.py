"""Leasing due outbox messages to one worker, in a short transaction of its own.

On PostgreSQL the due rows are locked ``FOR UPDATE SKIP LOCKED``, so concurrent workers
each take different rows without waiting; on SQLite the claiming unit of work begins
``IMMEDIATE``, which serialises claimers, and the transaction holds nothing but the claim.
A lease that has expired (its worker died) makes the row claimable again; the attempt the
dead worker started is marked abandoned so the history shows it.

A batch is leased with the same few statements whatever its size (one select, one update
of abandoned attempts, the leases and the attempt rows each flushed as one batch), plus
what the claimed hook reads: on SQLite every claimer waits for the one before it to
commit, so the claim must stay short for several workers to help at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update

from orderops.storage.base import new_id
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.writeback import WritebackAttempt
from orderops.storage.uow import UnitOfWork
from orderops.writeback.delivery import Claimed
from orderops.writeback.states import CLAIMABLE, AttemptOutcome, OutboxStatus

Summarise = Callable[[OutboxMessage], dict[str, Any]]
ClaimedHook = Callable[[UnitOfWork, OutboxMessage, datetime], None]
"""Called for each message as it is leased, in the claiming transaction (a case starts
executing when its first effect is claimed)."""

_IN_FLIGHT = str(OutboxStatus.IN_FLIGHT)


def claim_due(
    uow: UnitOfWork,
    *,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    systems: Collection[str],
    summarise: Summarise,
    on_claimed: ClaimedHook | None = None,
) -> list[Claimed]:
    """Lease up to ``limit`` due messages of ``systems`` to ``worker_id``; caller commits."""
    if not systems or limit < 1:
        return []
    due = or_(
        and_(
            OutboxMessage.status.in_([str(s) for s in CLAIMABLE]),
            OutboxMessage.next_attempt_at <= now,
        ),
        and_(
            OutboxMessage.status == str(OutboxStatus.IN_FLIGHT),
            OutboxMessage.leased_until <= now,
        ),
    )
    rows = uow.session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.tenant_id == uow.tenant_id,
            OutboxMessage.system.in_(list(systems)),
            due,
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    _abandon_started_attempts(uow, [row.id for row in rows if row.status == _IN_FLIGHT])
    claimed = [_lease(uow, row, worker_id, now, lease, summarise) for row in rows]
    uow.session.flush()
    if on_claimed is not None:
        for row in rows:
            on_claimed(uow, row, now)
        uow.session.flush()
    return claimed


def _abandon_started_attempts(uow: UnitOfWork, message_ids: list[str]) -> None:
    """The attempts of workers whose lease expired: they will never finish them."""
    if not message_ids:
        return
    uow.session.execute(
        update(WritebackAttempt)
        .where(
            WritebackAttempt.tenant_id == uow.tenant_id,
            WritebackAttempt.message_id.in_(message_ids),
            WritebackAttempt.outcome == str(AttemptOutcome.STARTED),
        )
        .values(outcome=str(AttemptOutcome.ABANDONED)),
        execution_options={"synchronize_session": False},
    )


def _lease(
    uow: UnitOfWork,
    row: OutboxMessage,
    worker_id: str,
    now: datetime,
    lease: timedelta,
    summarise: Summarise,
) -> Claimed:
    previous = OutboxStatus(row.status)
    row.status = _IN_FLIGHT
    row.leased_by = worker_id
    row.leased_until = now + lease
    row.attempts += 1
    attempt = WritebackAttempt(
        id=new_id(),
        tenant_id=uow.tenant_id,
        message_id=row.id,
        number=row.attempts,
        worker_id=worker_id,
        outcome=str(AttemptOutcome.STARTED),
        request_summary=summarise(row),
        started_at=now,
    )
    uow.session.add(attempt)
    return Claimed(
        id=row.id,
        tenant_id=row.tenant_id,
        system=row.system,
        operation=row.operation,
        idempotency_key=row.idempotency_key,
        payload=dict(row.payload),
        attempts=row.attempts,
        tries=row.attempts - row.attempts_at_retry,
        previous_status=previous,
        previous_result=dict(row.result) if row.result is not None else None,
        case_id=row.case_id,
        order_ref=row.order_ref,
        attempt_id=attempt.id,
    )
