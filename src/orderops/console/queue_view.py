"""The queue page's read model: a queue's open cases with their SLA state, filtered and
sorted the way a reviewer picks the next case.

``sla_state`` and ``sort_rows`` are pure; ``queue_cases`` reads through the unit of work.
Impact is the case's stored score (``cases/impact.py`` writes ``impact_score`` when the case
opens; cases from before it may carry one in ``facts["impact"]``); without one the sort
falls back to the SLA deadline and then to the time the case opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select

from orderops.cases.sla import TimerKind, TimerOutcome
from orderops.console.order_names import order_names
from orderops.domain.cases import CLOSED_STATUSES, CaseStatus
from orderops.storage.repositories.queue_scopes import queue_scopes, shown_in_queues
from orderops.storage.tables import Case
from orderops.storage.tables.queues import CaseTimer
from orderops.storage.uow import UnitOfWork

AT_RISK_WITHIN = timedelta(hours=1)
MAX_ROWS = 500
SHOWN_ROWS = 100
"""Rows a queue page shows unless asked for all: a reviewer takes the next case from the
top, and drawing 500 rows was most of the page's time (150 ms at p50, with the database
answering in 5 ms, on a 1M-order history: ``benchmarks/history_scale.py``)."""


class SlaState(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    PAUSED = "paused"
    NONE = "none"


class SortKey(StrEnum):
    IMPACT = "impact"
    SLA = "sla"
    OLDEST = "oldest"
    NEWEST = "newest"


@dataclass(frozen=True, kw_only=True)
class QueueFilter:
    exception_type: str = ""
    priority: str = ""
    sla: str = ""
    assignee: str = ""
    """"" anyone, "none" unassigned, "me" the viewer, else a name."""
    min_age_hours: float | None = None
    sort: SortKey = SortKey.IMPACT


@dataclass(frozen=True, kw_only=True)
class CaseRow:
    id: str
    order_ref: str
    exception_type: str
    status: str
    priority: str
    assignee: str | None
    summary: str
    opened_at: datetime
    version: int
    sla_due: datetime | None
    sla_state: SlaState
    impact: float | None
    order_name: str = ""
    """The order as the store names it ("#1046"); its reference when it has no number."""


def sla_state(
    *, status: str, due_at: datetime | None, breached_before: bool, now: datetime
) -> SlaState:
    """Where the case stands against its response time (snoozed cases pause the clock)."""
    if status == CaseStatus.SNOOZED:
        return SlaState.PAUSED
    if breached_before or (due_at is not None and due_at <= now):
        return SlaState.BREACHED
    if due_at is None:
        return SlaState.NONE
    return SlaState.AT_RISK if due_at - now <= AT_RISK_WITHIN else SlaState.ON_TRACK


def impact_of(facts: Mapping[str, Any]) -> float | None:
    """The impact score if the scorer left one (a number, or ``{"score": n}``)."""
    impact = facts.get("impact")
    if isinstance(impact, Mapping):
        impact = impact.get("score", impact.get("amount_minor"))
    if isinstance(impact, int | float) and not isinstance(impact, bool):
        return float(impact)
    return None


def sort_rows(rows: Sequence[CaseRow], key: SortKey) -> list[CaseRow]:
    """Most urgent first; cases without the sort's data follow, oldest first."""
    far = datetime.max.replace(tzinfo=rows[0].opened_at.tzinfo) if rows else None

    def by_sla(row: CaseRow) -> tuple[Any, ...]:
        return (row.sla_due or far, row.opened_at, row.id)

    if key is SortKey.NEWEST:
        return sorted(rows, key=lambda r: (r.opened_at, r.id), reverse=True)
    if key is SortKey.OLDEST:
        return sorted(rows, key=lambda r: (r.opened_at, r.id))
    if key is SortKey.SLA:
        return sorted(rows, key=by_sla)
    return sorted(rows, key=lambda r: (r.impact is None, -(r.impact or 0.0), *by_sla(r)))


def keep(row: CaseRow, where: QueueFilter, *, me: str, now: datetime) -> bool:
    if where.sla and row.sla_state != where.sla:
        return False
    if where.min_age_hours is not None and now - row.opened_at < timedelta(
        hours=where.min_age_hours
    ):
        return False
    if where.assignee == "none":
        return row.assignee is None
    if where.assignee == "me":
        return row.assignee == me
    return not where.assignee or row.assignee == where.assignee


def queue_cases(
    uow: UnitOfWork, queue: str, where: QueueFilter, *, me: str, now: datetime
) -> list[CaseRow]:
    query = select(Case).where(
        Case.tenant_id == uow.tenant_id,
        Case.queue == queue,
        Case.status.not_in([str(s) for s in CLOSED_STATUSES]),
    )
    if where.exception_type:
        query = query.where(Case.exception_type == where.exception_type)
    if where.priority:
        query = query.where(Case.priority == where.priority)
    shown = shown_in_queues(queue_scopes(uow.session, uow.tenant_id, [queue]))
    if shown is not None:  # a scoped queue shows only its cases in scope
        query = query.where(shown)
    cases = uow.session.scalars(query.order_by(Case.opened_at, Case.id).limit(MAX_ROWS)).all()
    return rows_of(uow, cases, where, me=me, now=now)


def rows_of(
    uow: UnitOfWork, cases: Sequence[Case], where: QueueFilter, *, me: str, now: datetime
) -> list[CaseRow]:
    """The cases as a queue's rows (SLA state, order name), filtered and sorted."""
    timers = sla_timers(uow, [c.id for c in cases])
    names = order_names(uow, [c.order_ref for c in cases])
    rows = [
        row_of(case, timers.get(case.id, ()), now=now, name=names.get(case.order_ref))
        for case in cases
    ]
    return sort_rows([r for r in rows if keep(r, where, me=me, now=now)], where.sort)


def sla_timers(uow: UnitOfWork, case_ids: Sequence[str]) -> dict[str, list[CaseTimer]]:
    found: dict[str, list[CaseTimer]] = {}
    if not case_ids:
        return found
    for timer in uow.session.scalars(
        select(CaseTimer).where(
            CaseTimer.tenant_id == uow.tenant_id,
            CaseTimer.case_id.in_(list(case_ids)),
            CaseTimer.kind == str(TimerKind.SLA_BREACH),
        )
    ):
        found.setdefault(timer.case_id, []).append(timer)
    return found


def row_of(
    case: Case, timers: Sequence[CaseTimer], *, now: datetime, name: str | None = None
) -> CaseRow:
    pending = [t.due_at for t in timers if t.fired_at is None]
    breached = any(t.outcome in (TimerOutcome.ESCALATED, TimerOutcome.NOTIFIED) for t in timers)
    due = min(pending) if pending else None
    row = CaseRow(
        id=case.id,
        order_ref=case.order_ref,
        exception_type=case.exception_type,
        status=case.status,
        priority=case.priority,
        assignee=case.assignee,
        summary=case.summary,
        opened_at=case.opened_at,
        version=case.version,
        sla_due=due,
        sla_state=SlaState.NONE,
        impact=(
            float(case.impact_score)
            if case.impact_score is not None
            else impact_of(case.facts or {})
        ),
        order_name=name or case.order_ref,
    )
    return replace(
        row, sla_state=sla_state(status=case.status, due_at=due, breached_before=breached, now=now)
    )
