"""Recording what delivery attempts came to, several to a transaction.

For each message the status change, the attempt row, the audit record
(``writeback.delivered`` / ``writeback.failed`` / ``writeback.conflict``), the conflict
hook and the saga's next step commit together. A worker whose lease was taken over while
it delivered records only its attempt (``lease_lost``): the message belongs to the worker
holding the lease.

A worker records the attempts that finished while it was recording the previous ones in
one transaction (``record_outcomes``), because per message the commit (a disk flush) and
the round trips are what recording costs: the group's rows are locked with one statement,
its attempt rows and status changes are written with one batched statement each. Nothing
is lost if the process dies before that commit: the messages stay in flight until their
leases expire, and the next attempt's precheck finds the effect by its key or marker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from orderops.domain.usage import Meter
from orderops.metering import usage
from orderops.storage.repositories.audit import AuditDraft
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.writeback import WritebackAttempt
from orderops.storage.uow import UnitOfWork
from orderops.writeback.conflicts import ConflictHook
from orderops.writeback.delivery import Claimed
from orderops.writeback.outcomes import Decision, Outcome, OutcomeKind
from orderops.writeback.states import AttemptOutcome, OutboxStatus, check_outbox_move

SettledHook = Callable[[UnitOfWork, OutboxMessage, datetime], None]
"""Called when a message settles (delivered, failed, conflict): sagas advance here."""
SettledGroupHook = Callable[[UnitOfWork, Sequence[OutboxMessage], datetime], None]
"""Called once with every message of a recorded group that settled, in the group's order,
so a hook can read what it needs about all of them at once."""


def each(hook: SettledHook) -> SettledGroupHook:
    """A one-message hook called for each settled message in turn."""

    def settle_each(uow: UnitOfWork, messages: Sequence[OutboxMessage], now: datetime) -> None:
        for message in messages:
            hook(uow, message, now)

    return settle_each


AUDIT_ACTIONS = {
    OutboxStatus.DELIVERED: "writeback.delivered",
    OutboxStatus.FAILED: "writeback.failed",
    OutboxStatus.CONFLICT: "writeback.conflict",
}


@dataclass(frozen=True)
class Finished:
    """One delivery attempt as the worker ends it: what it was, what happened, what next."""

    claimed: Claimed
    outcome: Outcome
    decision: Decision


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
    (kept,) = record_outcomes(
        uow,
        [Finished(claimed, outcome, decision)],
        worker_id=worker_id,
        now=now,
        on_conflict=on_conflict,
        on_settled=each(on_settled),
    )
    return kept


def record_outcomes(
    uow: UnitOfWork,
    finished: Sequence[Finished],
    *,
    worker_id: str,
    now: datetime,
    on_conflict: ConflictHook,
    on_settled: SettledGroupHook,
) -> list[bool]:
    """Write each decision down; per message, False when its lease was lost.

    In three steps over the group, each in the group's order: every attempt and status
    change, then the audit record of every settled message (one append), then the hooks:
    the conflict hook per conflicted message, the settled hook once for the group. A
    hook (a case moving on, a saga's next step) thus sees the whole group settled and is
    chained after the writeback records it follows from. The messages are locked in id
    order, so two workers recording overlapping groups (one after a lease takeover) queue
    instead of deadlocking.
    """
    ids = sorted({f.claimed.id for f in finished})
    messages = {
        m.id: m
        for m in uow.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.tenant_id == uow.tenant_id, OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.id)
            .with_for_update()
        )
    }
    kept = [_still_ours(messages.get(f.claimed.id), f.claimed, worker_id) for f in finished]
    uow.session.execute(
        update(WritebackAttempt),
        [
            _finished_attempt(f, now=now, lost=not ours)
            for f, ours in zip(finished, kept, strict=True)
        ],
    )
    settled: list[tuple[OutboxMessage, Outcome]] = []
    for item, ours in zip(finished, kept, strict=True):
        message = messages[item.claimed.id] if ours else None
        if message is not None and _apply(message, item, now=now):
            settled.append((message, item.outcome))
    uow.audit.append_many([_audit_draft(message, now) for message, _ in settled])
    delivered = (m.system for m, _ in settled if m.status == str(OutboxStatus.DELIVERED))
    usage.count_each(uow, Meter.WRITEBACKS, delivered, at=now)
    for message, outcome in settled:
        if message.status == str(OutboxStatus.CONFLICT):
            on_conflict(uow, message, outcome.differences, now)
    on_settled(uow, [message for message, _ in settled], now)
    uow.session.flush()
    return kept


def _still_ours(message: OutboxMessage | None, claimed: Claimed, worker_id: str) -> bool:
    return (
        message is not None
        and message.status == str(OutboxStatus.IN_FLIGHT)
        and message.leased_by == worker_id
        and message.attempts == claimed.attempts
    )


def _apply(message: OutboxMessage, item: Finished, *, now: datetime) -> bool:
    """The message's new state; True when it settled (no further attempt will be made)."""
    outcome, decision = item.outcome, item.decision
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
    return decision.settled


def _finished_attempt(item: Finished, *, now: datetime, lost: bool) -> dict[str, Any]:
    """The attempt row's closing values, for a bulk update by primary key (the tenant
    and the id: tenant-owned tables are keyed ``(tenant_id, id)``)."""
    outcome = item.outcome
    return {
        "tenant_id": item.claimed.tenant_id,
        "id": item.claimed.attempt_id,
        "outcome": str(AttemptOutcome.LEASE_LOST if lost else item.decision.attempt),
        "finished_at": now,
        "response_status": outcome.response_status,
        "response_excerpt": outcome.response_excerpt,
        "error": outcome.error,
    }


def _audit_draft(message: OutboxMessage, now: datetime) -> AuditDraft:
    return AuditDraft(
        at=now,
        actor="writeback",
        action=AUDIT_ACTIONS[OutboxStatus(message.status)],
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
