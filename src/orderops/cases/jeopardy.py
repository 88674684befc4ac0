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

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, sessionmaker

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
    """Recompute the tier of every open case of the tenant, ``batch`` cases at a time;
    return how many changed.

    Each batch is read in a read-only transaction and only the moves are written, in a
    short one of their own: on SQLite a write transaction holds the database's one writer
    lock, and holding it while 2,000 tiers are read and computed (most of them unchanged)
    stalls every event waiting to become a case. A move is written only if the case
    still has the tier it was read with, so an event that re-timed the case meanwhile
    wins and the next pass judges it again.
    """
    changed = 0
    after = ""
    while True:
        with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
            rows = uow.session.execute(
                select(Case.id, Case.jeopardy, CaseTimer.created_at, CaseTimer.due_at)
                .outerjoin(
                    CaseTimer,
                    and_(
                        CaseTimer.tenant_id == Case.tenant_id,
                        CaseTimer.case_id == Case.id,
                        CaseTimer.kind == str(TimerKind.SLA_BREACH),
                        CaseTimer.fired_at.is_(None),
                    ),
                )
                .where(Case.tenant_id == tenant_id, Case.status.not_in(_CLOSED), Case.id > after)
                .order_by(Case.id)
                .limit(batch)
            ).all()
            if not rows:
                return changed
            after = rows[-1][0]
            breached = _breached_before(uow, [r[0] for r in rows])
        now = clock.now()
        moves: dict[tuple[str | None, str], list[str]] = defaultdict(list)
        for case_id, current, started, due in rows:
            tier = jeopardy(
                started_at=started, due_at=due, now=now, breached_before=case_id in breached
            )
            if current != tier:
                moves[(current, str(tier))].append(case_id)
        if moves:
            changed += _move(sessions, tenant_id, moves)


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
