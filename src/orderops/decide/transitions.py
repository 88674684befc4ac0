"""The moves people make on a case: triage, snooze, escalate, resolve, reject, reopen.

Each goes through ``check_transition`` (an illegal move raises, it is never just logged)
and writes a timeline entry and audit record naming the person, in the caller's unit of
work. Automatic moves by detectors stay in ``cases/cases.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from orderops.cases.cases import record
from orderops.cases.conflicts import InvalidWorkRequest
from orderops.cases.queues import ensure_queue
from orderops.cases.routing import route_case
from orderops.cases.sla import TimerKind, cancel_timers, notify, schedule_sla, schedule_timer
from orderops.decide.holds import on_case_cleared
from orderops.domain.cases import CaseStatus, check_transition
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork


class Move(StrEnum):
    TRIAGE = "triage"
    SNOOZE = "snooze"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    REJECT = "reject"
    REOPEN = "reopen"


@dataclass(frozen=True, kw_only=True)
class MoveRequest:
    """One person's move, as the API and console hand it over."""

    move: Move
    actor: str
    reason: str | None = None
    snooze_until: datetime | None = None
    wake_on_event: bool = False


TARGETS: dict[Move, CaseStatus] = {
    Move.TRIAGE: CaseStatus.TRIAGED,
    Move.SNOOZE: CaseStatus.SNOOZED,
    Move.ESCALATE: CaseStatus.ESCALATED,
    Move.RESOLVE: CaseStatus.RESOLVED,
    Move.REJECT: CaseStatus.REJECTED,
    Move.REOPEN: CaseStatus.REOPENED,
}


def apply_move(uow: UnitOfWork, case: Case, request: MoveRequest, *, now: datetime) -> None:
    """Dispatch one move; an illegal move is refused before its details are judged."""
    check_transition(CaseStatus(case.status), TARGETS[request.move])
    MOVES[request.move](uow, case, request, now)


def triage(
    uow: UnitOfWork, case: Case, *, actor: str, now: datetime, note: str | None = None
) -> None:
    was_snoozed = case.status == CaseStatus.SNOOZED
    _move(
        uow,
        case,
        CaseStatus.TRIAGED,
        actor=actor,
        now=now,
        kind="triaged",
        summary=note or "Triaged",
    )
    if was_snoozed:  # triaging a snoozed case wakes it by hand
        case.snoozed_until, case.wake_on_event = None, False
        cancel_timers(uow, case, now=now, kinds=[TimerKind.SNOOZE_WAKE])
        schedule_sla(uow, case, now=now)


def snooze(
    uow: UnitOfWork,
    case: Case,
    *,
    actor: str,
    now: datetime,
    until: datetime | None = None,
    wake_on_event: bool = False,
    reason: str | None = None,
) -> None:
    """Put the case aside until a time, until an event lands on it, or whichever comes first.

    The SLA clock stops while snoozed and restarts on waking.
    """
    if until is None and not wake_on_event:
        raise InvalidWorkRequest("a snooze needs a time to wake, or to wake on the next event")
    if until is not None and until <= now:
        raise InvalidWorkRequest(
            f"cannot snooze until {until.isoformat()}: that is not in the future"
        )
    waking = " or ".join(
        part
        for part in (
            f"until {until.isoformat()}" if until else "",
            "until the next event" if wake_on_event else "",
        )
        if part
    )
    _move(
        uow,
        case,
        CaseStatus.SNOOZED,
        actor=actor,
        now=now,
        kind="snoozed",
        summary=f"Snoozed {waking}" + (f": {reason}" if reason else ""),
        data={"until": until.isoformat() if until else None, "wake_on_event": wake_on_event},
    )
    case.snoozed_until, case.wake_on_event = until, wake_on_event
    cancel_timers(uow, case, now=now, kinds=[TimerKind.SLA_BREACH])
    if until is not None:
        schedule_timer(uow, case, kind=TimerKind.SNOOZE_WAKE, due_at=until, now=now)


def escalate(uow: UnitOfWork, case: Case, *, actor: str, now: datetime, reason: str) -> None:
    """Hand the case up to its queue's escalation queue, with the reason why."""
    _require(reason, "an escalation")
    source = ensure_queue(uow, case.queue or "ops", now=now)
    target = source.escalation_queue or source.name
    _move(
        uow,
        case,
        CaseStatus.ESCALATED,
        actor=actor,
        now=now,
        kind="escalated",
        summary=f"Escalated to {target}: {reason}",
        data={"reason": reason, "from_queue": source.name, "to_queue": target},
    )
    ensure_queue(uow, target, now=now)
    case.queue, case.assignee = target, None
    notify(uow, case, now=now, queue=target, reason=f"escalated by {actor}: {reason}")
    schedule_sla(uow, case, now=now)


def resolve(uow: UnitOfWork, case: Case, *, actor: str, now: datetime, reason: str) -> None:
    _close(uow, case, CaseStatus.RESOLVED, actor=actor, now=now, reason=reason)


def reject(uow: UnitOfWork, case: Case, *, actor: str, now: datetime, reason: str) -> None:
    """Close the case as not an exception after all (a false alarm, a duplicate)."""
    _close(uow, case, CaseStatus.REJECTED, actor=actor, now=now, reason=reason)


def reopen(uow: UnitOfWork, case: Case, *, actor: str, now: datetime, reason: str) -> None:
    """Bring a closed case back; it is routed again, as its facts may have changed."""
    _require(reason, "reopening")
    _move(
        uow,
        case,
        CaseStatus.REOPENED,
        actor=actor,
        now=now,
        kind="reopened",
        summary=f"Reopened: {reason}",
        data={"reason": reason},
    )
    case.reopen_count += 1
    case.closed_at, case.close_reason = None, None
    route_case(uow, case, now=now)
    schedule_sla(uow, case, now=now)


def _close(
    uow: UnitOfWork, case: Case, target: CaseStatus, *, actor: str, now: datetime, reason: str
) -> None:
    _require(reason, f"{'resolving' if target is CaseStatus.RESOLVED else 'rejecting'} a case")
    _move(
        uow,
        case,
        target,
        actor=actor,
        now=now,
        kind=str(target),
        summary=f"{target.capitalize()}: {reason}",
        data={"reason": reason},
    )
    case.closed_at, case.close_reason = now, reason
    case.snoozed_until, case.wake_on_event = None, False
    cancel_timers(uow, case, now=now)
    on_case_cleared(uow, case, at=now, actor=actor)


def _move(
    uow: UnitOfWork,
    case: Case,
    target: CaseStatus,
    *,
    actor: str,
    now: datetime,
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
) -> None:
    previous = case.status
    case.status = check_transition(CaseStatus(case.status), target)
    case.updated_at = now
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind=kind,
        summary=summary,
        data={"from": previous, **(data or {})},
    )


def _require(reason: str | None, what: str) -> None:
    if not reason or not reason.strip():
        raise InvalidWorkRequest(f"{what} needs a reason")


def _apply_triage(uow: UnitOfWork, case: Case, r: MoveRequest, now: datetime) -> None:
    triage(uow, case, actor=r.actor, now=now, note=r.reason)


def _apply_snooze(uow: UnitOfWork, case: Case, r: MoveRequest, now: datetime) -> None:
    snooze(
        uow,
        case,
        actor=r.actor,
        now=now,
        until=r.snooze_until,
        wake_on_event=r.wake_on_event,
        reason=r.reason,
    )


def _with_reason(
    move: Callable[..., None],
) -> Callable[[UnitOfWork, Case, MoveRequest, datetime], None]:
    def apply(uow: UnitOfWork, case: Case, r: MoveRequest, now: datetime) -> None:
        move(uow, case, actor=r.actor, now=now, reason=r.reason or "")

    return apply


MOVES: dict[Move, Callable[[UnitOfWork, Case, MoveRequest, datetime], None]] = {
    Move.TRIAGE: _apply_triage,
    Move.SNOOZE: _apply_snooze,
    Move.ESCALATE: _with_reason(escalate),
    Move.RESOLVE: _with_reason(resolve),
    Move.REJECT: _with_reason(reject),
    Move.REOPEN: _with_reason(reopen),
}
