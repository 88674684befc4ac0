"""Recording what a delivery attempt came to, in a transaction of its own.

The status change, the attempt row, the audit record (``writeback.delivered`` /
``writeback.failed`` / ``writeback.conflict``), the conflict hook and the saga's next
step all commit together. A worker whose lease was taken over while it delivered records
only its attempt (``lease_lost``): the message belongs to the worker holding the lease.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.writeback import WritebackAttempt
from orderops.storage.uow import UnitOfWork
from orderops.writeback.conflicts import ConflictHook
from orderops.writeback.delivery import Claimed
from orderops.writeback.outcomes import Decision, Outcome, OutcomeKind
from orderops.writeback.states import AttemptOutcome, OutboxStatus, check_outbox_move

SettledHook = Callable[[UnitOfWork, OutboxMessage, datetime], None]
"""Called when a message settles (delivered, failed, conflict): sagas advance here."""

AUDIT_ACTIONS = {
    OutboxStatus.DELIVERED: "writeback.delivered",
    OutboxStatus.FAILED: "writeback.failed",
    OutboxStatus.CONFLICT: "writeback.conflict",
}


def record_outcome(
    uow: UnitOfWork,
    claimed: Claimed,
    outcome: Outcome,
    decision: Decision,
    *,
    worker_id: str,
    now: datetime,
    on_conflict: ConflictHook,
    on_settled: SettledHook,
) -> bool:
    """Write the decision down; False when the lease was lost and the message left alone."""
    message = uow.session.scalar(
        select(OutboxMessage)
        .where(OutboxMessage.tenant_id == uow.tenant_id, OutboxMessage.id == claimed.id)
        .with_for_update()
    )
    attempt = uow.session.get(WritebackAttempt, claimed.attempt_id)
    still_ours = (
        message is not None
        and message.status == str(OutboxStatus.IN_FLIGHT)
        and message.leased_by == worker_id
        and message.attempts == claimed.attempts
    )
    if attempt is not None:
        _finish_attempt(attempt, outcome, decision, now=now, lost=not still_ours)
    if not still_ours or message is None:
        return False
    message.status = str(check_outbox_move(OutboxStatus.IN_FLIGHT, decision.status))
    message.leased_by, message.leased_until = None, None
    message.last_error = outcome.error
    if outcome.result is not None:
        message.result = outcome.result
    if decision.next_attempt_at is not None:
        message.next_attempt_at = decision.next_attempt_at
    if decision.dead_letter_reason is not None:
        message.dead_letter_reason = decision.dead_letter_reason
    if outcome.kind is OutcomeKind.CONFLICT:
        message.conflict = {"differences": [d.as_json() for d in outcome.differences]}
    if decision.settled:
        message.completed_at = now
        _audit(uow, message, now)
        if decision.status is OutboxStatus.CONFLICT:
            on_conflict(uow, message, outcome.differences, now)
        on_settled(uow, message, now)
    uow.session.flush()
    return True


def _finish_attempt(
    attempt: WritebackAttempt, outcome: Outcome, decision: Decision, *, now: datetime, lost: bool
) -> None:
    attempt.outcome = str(AttemptOutcome.LEASE_LOST if lost else decision.attempt)
    attempt.finished_at = now
    attempt.response_status = outcome.response_status
    attempt.response_excerpt = outcome.response_excerpt
    attempt.error = outcome.error


def _audit(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
    status = OutboxStatus(message.status)
    uow.audit.append(
        at=now,
        actor="writeback",
        action=AUDIT_ACTIONS[status],
        entity_type="outbox",
        entity_id=message.id,
        data={
            "system": message.system,
            "operation": message.operation,
            "idempotency_key": message.idempotency_key,
            "attempts": message.attempts,
            "case_id": message.case_id,
            "result": message.result,
            "reason": message.dead_letter_reason or message.last_error,
        },
    )
