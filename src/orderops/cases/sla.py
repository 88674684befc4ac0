"""Durable timers: SLA breaches escalate, snoozes wake up.

A timer is a ``case_timers`` row, so it outlives the process that set it: the sweep
``fire_due_timers`` finds whatever fell due while no worker ran. Each timer fires in its
own transaction that locks the row and stamps ``fired_at`` together with the change it
causes, so a timer acts exactly once however many workers sweep at the same time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import record
from orderops.cases.conflicts import load_case
from orderops.cases.queues import ensure_queue
from orderops.domain.cases import CaseStatus, check_transition, is_open
from orderops.domain.clock import Clock
from orderops.domain.errors import IllegalTransition
from orderops.domain.routing import QueueKind, parse_priority
from orderops.domain.sla import sla_due
from orderops.storage.repositories.queues import queues_of
from orderops.storage.tables import Case
from orderops.storage.tables.queues import CaseTimer
from orderops.storage.uow import UnitOfWork

SLA_ACTOR = "sla"


class TimerKind(StrEnum):
    SLA_BREACH = "sla_breach"
    SNOOZE_WAKE = "snooze_wake"


class TimerOutcome(StrEnum):
    ESCALATED = "escalated"
    NOTIFIED = "notified"
    """The SLA passed but the case cannot escalate from its status; the leads are told."""
    WOKEN = "woken"
    SKIPPED = "skipped"
    """Nothing left to do: the case closed or already moved on."""
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class FiredTimer:
    timer_id: str
    case_id: str
    kind: TimerKind
    outcome: TimerOutcome


def schedule_timer(
    uow: UnitOfWork, case: Case, *, kind: TimerKind, due_at: datetime, now: datetime
) -> CaseTimer:
    """Set the case's timer of ``kind``, replacing a pending one (one pending per kind)."""
    cancel_timers(uow, case, now=now, kinds=[kind])
    timer = CaseTimer(case_id=case.id, kind=kind, due_at=due_at, created_at=now)
    queues_of(uow).add_timer(timer)
    return timer


def cancel_timers(
    uow: UnitOfWork, case: Case, *, now: datetime, kinds: Iterable[TimerKind] | None = None
) -> int:
    wanted = {str(k) for k in kinds} if kinds is not None else None
    cancelled = 0
    for timer in queues_of(uow).pending_timers(case.id):
        if wanted is None or timer.kind in wanted:
            timer.fired_at, timer.outcome = now, TimerOutcome.CANCELLED
            cancelled += 1
    uow.session.flush()
    return cancelled


def schedule_sla(uow: UnitOfWork, case: Case, *, now: datetime) -> CaseTimer:
    """Start the response clock for the case's queue and priority from ``now``."""
    queue = ensure_queue(uow, case.queue or QueueKind.OPS, now=now)
    due = sla_due(now, parse_priority(case.priority), queue.sla_minutes)
    return schedule_timer(uow, case, kind=TimerKind.SLA_BREACH, due_at=due, now=now)


def fire_due_timers(
    sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock, batch: int = 200
) -> list[FiredTimer]:
    """Fire every timer of the tenant that is due by ``clock.now()``, each in its own
    transaction, so one failing case never holds back the others."""
    fired: list[FiredTimer] = []
    seen: set[str] = set()
    while True:
        with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
            due = queues_of(uow).due_timer_ids(now=clock.now(), limit=batch)
            ids = [i for i in due if i not in seen]
        if not ids:
            return fired
        seen.update(ids)
        for timer_id in ids:
            with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
                timer = queues_of(uow).claim_timer(timer_id)
                if timer is None:  # fired, cancelled or held by another worker meanwhile
                    continue
                result = _fire(uow, timer, now=clock.now())
                uow.commit()
            fired.append(result)


def wake(uow: UnitOfWork, case: Case, *, now: datetime, actor: str, reason: str) -> bool:
    """Bring a snoozed case back to triage and restart its response clock."""
    if case.status != CaseStatus.SNOOZED:
        return False
    case.status = check_transition(CaseStatus.SNOOZED, CaseStatus.TRIAGED)
    until = case.snoozed_until
    case.snoozed_until, case.wake_on_event, case.updated_at = None, False, now
    cancel_timers(uow, case, now=now, kinds=[TimerKind.SNOOZE_WAKE])
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="woken",
        summary=f"Woken from snooze: {reason}",
        data={"reason": reason, "snoozed_until": until.isoformat() if until else None},
    )
    schedule_sla(uow, case, now=now)
    return True


def wake_on_event(
    uow: UnitOfWork, case: Case, *, now: datetime, inbox_id: str | None = None
) -> bool:
    """Called by the pipeline when an event lands on the case: a case snoozed "until
    something happens" wakes now. True when it woke."""
    if case.status != CaseStatus.SNOOZED or not case.wake_on_event:
        return False
    reason = f"new event {inbox_id}" if inbox_id else "new event"
    return wake(uow, case, now=now, actor="pipeline", reason=reason)


def _fire(uow: UnitOfWork, timer: CaseTimer, *, now: datetime) -> FiredTimer:
    case = load_case(uow, timer.case_id, expected_version=None)
    timer.fired_at = now  # stamped first: what follows must not see it as pending
    uow.session.flush()
    if timer.kind == TimerKind.SNOOZE_WAKE:
        woke = wake(uow, case, now=now, actor=SLA_ACTOR, reason="snooze time reached")
        outcome = TimerOutcome.WOKEN if woke else TimerOutcome.SKIPPED
    else:
        outcome = _breach(uow, case, timer, now=now)
    timer.outcome = outcome
    return FiredTimer(timer.id, case.id, TimerKind(timer.kind), outcome)


def _breach(uow: UnitOfWork, case: Case, timer: CaseTimer, *, now: datetime) -> TimerOutcome:
    status = CaseStatus(case.status)
    if not is_open(status) or status is CaseStatus.SNOOZED:
        return TimerOutcome.SKIPPED
    source = ensure_queue(uow, case.queue or QueueKind.OPS, now=now)
    due = timer.due_at.isoformat()
    try:
        case.status = check_transition(status, CaseStatus.ESCALATED)
    except IllegalTransition:
        notify(
            uow,
            case,
            now=now,
            queue=source.escalation_queue or source.name,
            reason=f"SLA due {due} passed while {status}",
        )
        return TimerOutcome.NOTIFIED
    target = source.escalation_queue or source.name
    ensure_queue(uow, target, now=now)
    case.queue, case.assignee, case.updated_at = target, None, now
    record(
        uow,
        case,
        at=now,
        actor=SLA_ACTOR,
        kind="escalated",
        summary=f"SLA breached in {source.name} (due {due}); escalated to {target}",
        data={
            "reason": "sla_breached",
            "timer_id": timer.id,
            "due_at": due,
            "from_queue": source.name,
            "to_queue": target,
        },
    )
    notify(uow, case, now=now, queue=target, reason=f"SLA breached in {source.name}")
    schedule_sla(uow, case, now=now)
    return TimerOutcome.ESCALATED


def notify(uow: UnitOfWork, case: Case, *, now: datetime, queue: str, reason: str) -> None:
    """A notification for the people of ``queue``: a timeline entry (and its audit record)
    that the console's notification feed reads; delivery elsewhere is a channel's job."""
    record(
        uow,
        case,
        at=now,
        actor=SLA_ACTOR,
        kind="notification",
        summary=f"Notified {queue}: {reason}",
        data={"channel": "queue", "queue": queue, "reason": reason},
    )
