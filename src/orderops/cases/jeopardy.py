"""Keeping each open case's SLA jeopardy tier current as time passes.

The tier is derived from the case's SLA timer (``case_timers``) and the time, so it
changes with no event at all: the worker's sweep ``refresh_jeopardy`` recomputes it and
writes only the cases whose tier moved. It is stored on the case so queues can filter
and sort on it; it is display state, so it bypasses the case version (a reviewer's
concurrent edit must not fail because the clock ticked).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from orderops.cases.sla import TimerKind, TimerOutcome
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.clock import Clock
from orderops.domain.jeopardy import Jeopardy, jeopardy
from orderops.storage.tables import Case
from orderops.storage.tables.queues import CaseTimer
from orderops.storage.uow import UnitOfWork

_CLOSED = [str(s) for s in CLOSED_STATUSES]
_BREACHED = [str(TimerOutcome.ESCALATED), str(TimerOutcome.NOTIFIED)]


def refresh_jeopardy(
    sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock, batch: int = 2_000
) -> int:
    """Bring every open case's stored tier up to date, ``batch`` cases at a time; return
    how many changed.

    Only cases whose tier may be stale are read (``_stale``): recomputing all of a
    100k-case backlog in Python on every full pass of the worker (every 5 s; 4-5 s of work
    each on PostgreSQL) kept it busy with a job that almost never moves a tier, beside the
    events waiting to become cases (the worker now also runs it once a minute at most,
    ``workflow/worker.JEOPARDY_EVERY``). Each batch is read in a read-only
    transaction and only the moves are written, in a short one of their own: on SQLite a
    write transaction holds the database's one writer lock. A move is written only if
    the case still has the tier it was read with, so an event that re-timed the case
    meanwhile wins and the next pass judges it again.
    """
    changed = 0
    after = ""
    while True:
        now = clock.now()
        with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
            rows = _stale(uow, now=now, after=after, limit=batch)
        if not rows:
            return changed
        after = rows[-1][0]
        moves: dict[tuple[str | None, str], list[str]] = defaultdict(list)
        for case_id, current, started, due, breached in rows:
            tier = jeopardy(started_at=started, due_at=due, now=now, breached_before=breached)
            if current != tier:
                moves[(current, str(tier))].append(case_id)
        if moves:
            changed += _move(sessions, tenant_id, moves)


def _stale(
    uow: UnitOfWork, *, now: datetime, after: str, limit: int
) -> list[tuple[str, str | None, datetime | None, datetime | None, bool]]:
    """Open cases after ``after`` (by id) whose stored tier may differ from their tier at
    ``now``, with what ``jeopardy`` needs to judge them.

    The tier is a function of the pending SLA clock and whether an earlier one breached
    (``domain/jeopardy.py``), so a case is left out only where that function is settled
    without arithmetic: stored ``breached`` with a clock that breached before or is due by
    now, or stored ``on_track`` with no clock and no breach. A clock still running on a
    case that never breached may cross into the at-risk share at any moment, so those
    cases are always read.
    """
    pending = aliased(CaseTimer)
    breached = (
        exists()
        .where(
            CaseTimer.tenant_id == Case.tenant_id,
            CaseTimer.case_id == Case.id,
            CaseTimer.kind == str(TimerKind.SLA_BREACH),
            CaseTimer.outcome.in_(_BREACHED),
        )
        .correlate(Case)
    )
    rows = uow.session.execute(
        select(Case.id, Case.jeopardy, pending.created_at, pending.due_at, breached)
        .outerjoin(
            pending,
            and_(
                pending.tenant_id == Case.tenant_id,
                pending.case_id == Case.id,
                pending.kind == str(TimerKind.SLA_BREACH),
                pending.fired_at.is_(None),
            ),
        )
        .where(
            Case.tenant_id == uow.tenant_id,
            Case.status.not_in(_CLOSED),
            Case.id > after,
            or_(
                Case.jeopardy.is_(None),
                and_(pending.due_at > now, ~breached),
                and_(Case.jeopardy != str(Jeopardy.BREACHED), or_(pending.due_at <= now, breached)),
                and_(Case.jeopardy != str(Jeopardy.ON_TRACK), pending.id.is_(None), ~breached),
            ),
        )
        .order_by(Case.id)
        .limit(limit)
    ).all()
    return [(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]


def _move(
    sessions: sessionmaker[Session],
    tenant_id: str,
    moves: dict[tuple[str | None, str], list[str]],
) -> int:
    moved = 0
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        for (was, tier_name), ids in moves.items():
            result = uow.session.execute(
                update(Case)
                .where(
                    Case.tenant_id == tenant_id,
                    Case.id.in_(ids),
                    Case.jeopardy.is_(None) if was is None else Case.jeopardy == was,
                )
                .values(jeopardy=tier_name)
                .execution_options(synchronize_session=False)
            )
            moved += int(result.rowcount or 0)  # type: ignore[attr-defined]
        uow.commit()
    return moved


def jeopardy_of(uow: UnitOfWork, case: Case, *, now: datetime) -> Jeopardy:
    """One case's tier now, read from its timers."""
    timer = uow.session.scalar(
        select(CaseTimer).where(
            CaseTimer.tenant_id == uow.tenant_id,
            CaseTimer.case_id == case.id,
            CaseTimer.kind == str(TimerKind.SLA_BREACH),
            CaseTimer.fired_at.is_(None),
        )
    )
    return jeopardy(
        started_at=timer.created_at if timer else None,
        due_at=timer.due_at if timer else None,
        now=now,
        breached_before=case.id in _breached_before(uow, [case.id]),
    )


def _breached_before(uow: UnitOfWork, case_ids: list[str]) -> set[str]:
    """Cases among ``case_ids`` whose SLA already fired (escalated or notified)."""
    return set(
        uow.session.scalars(
            select(CaseTimer.case_id).where(
                CaseTimer.tenant_id == uow.tenant_id,
                CaseTimer.case_id.in_(case_ids),
                CaseTimer.kind == str(TimerKind.SLA_BREACH),
                CaseTimer.outcome.in_(_BREACHED),
            )
        ).all()
    )
