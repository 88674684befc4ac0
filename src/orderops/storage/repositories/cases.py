"""Case queries: the open case of an order and cause, listing with filters, timelines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, Subquery, func, select
from sqlalchemy.orm import Session

from orderops.domain.cases import CLOSED_STATUSES
from orderops.storage.repositories.keyset import SortPart, ordering
from orderops.storage.repositories.loaded import loaded_rows
from orderops.storage.repositories.queue_scopes import queue_scopes, shown_in_queues
from orderops.storage.tables import Case, CaseTimelineEntry
from orderops.storage.tables.queues import CaseTimer

_CLOSED = frozenset(str(s) for s in CLOSED_STATUSES)


@dataclass(frozen=True, kw_only=True)
class CaseFilter:
    status: Sequence[str] = ()
    exception_type: Sequence[str] = ()
    order_ref: str | None = None
    open_only: bool = False
    opened_from: datetime | None = None
    opened_to: datetime | None = None
    incident_id: str | None = None
    queue: Sequence[str] = ()
    priority: Sequence[str] = ()
    assignee: str | None = None


class CaseSort(StrEnum):
    OPENED = "opened"
    """Newest first."""
    IMPACT = "impact"
    """Highest customer impact first, then the nearest SLA due time."""
    SLA = "sla"
    """Nearest SLA due time first (cases without a running clock last), then impact."""


@dataclass(frozen=True)
class CasePage:
    items: Sequence[Case]
    total: int
    grouped: Mapping[str, int] = field(default_factory=dict)
    """With collapsed incidents: case id of an incident's row -> cases that row stands for."""


class CaseRepository:
    def __init__(self, session: Session, tenant_id: str) -> None:
        self._session = session
        self._tenant = tenant_id

    def add(self, case: Case) -> Case:
        case.tenant_id = self._tenant
        self._session.add(case)
        self._session.flush()
        return case

    def get(self, case_id: str) -> Case | None:
        return self._session.scalar(
            select(Case).where(Case.tenant_id == self._tenant, Case.id == case_id)
        )

    def latest_for(self, order_id: str, exception_type: str) -> Case | None:
        """The open case if there is one, else the most recently opened closed one."""
        return self._session.scalar(
            select(Case)
            .where(
                Case.tenant_id == self._tenant,
                Case.order_id == order_id,
                Case.exception_type == exception_type,
            )
            .order_by(Case.status.in_([str(s) for s in CLOSED_STATUSES]), Case.opened_at.desc())
            .limit(1)
        )

    def by_type_for_order(self, order_id: str) -> dict[str, Case]:
        """Per exception type, the order's open case, else its most recently opened one.

        Within a processing chunk, the order's cases are read once and then kept
        (``storage/repositories/loaded.py``)."""

        def fetch() -> Sequence[Case]:
            return self._session.scalars(
                select(Case)
                .where(Case.tenant_id == self._tenant, Case.order_id == order_id)
                .order_by(Case.opened_at)
            ).all()

        loaded = loaded_rows(self._session)
        cases: Sequence[Case]
        if loaded is not None and loaded.tenant_id == self._tenant:
            cases = loaded.rows(Case, {"order_id": order_id}, order_by=("opened_at",), fetch=fetch)
        else:
            cases = fetch()
        chosen: dict[str, Case] = {}
        for case in cases:  # later and open cases override earlier and closed ones
            current = chosen.get(case.exception_type)
            if current is None or case.status not in _CLOSED or current.status in _CLOSED:
                chosen[case.exception_type] = case
        return chosen

    def search(
        self,
        where: CaseFilter,
        *,
        limit: int,
        offset: int,
        sort: CaseSort = CaseSort.OPENED,
        collapse_incidents: bool = False,
    ) -> CasePage:
        """A page of matching whole cases with the exact total, for the services, the CLI
        and evaluations that read a tenant's cases in bulk. The API's list pages through
        ``case_list.py`` instead (keyset, no count). With ``collapse_incidents`` an
        incident's cases show as one row (its first case in the chosen order), so a storm
        does not bury the queue; ``grouped`` says how many cases each such row stands for."""
        query = filtered_cases(self._tenant, where)
        if where.queue:  # a scoped queue shows only its cases in scope
            in_view = shown_in_queues(queue_scopes(self._session, self._tenant, where.queue))
            query = query if in_view is None else query.where(in_view)
        due = pending_sla_due(self._tenant)
        if sort is not CaseSort.OPENED:
            query = query.outerjoin(due, due.c.case_id == Case.id)
        order = ordering(sort_parts(sort, due))
        if collapse_incidents:
            return self._collapsed(query, sort, due, limit=limit, offset=offset)
        total = self._session.scalar(select(func.count()).select_from(query.subquery())) or 0
        items = self._session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
        return CasePage(items=items, total=total)

    def _collapsed(
        self, query: Select[Any], sort: CaseSort, due: Subquery, *, limit: int, offset: int
    ) -> CasePage:
        firsts = incident_firsts(query, sort, due)
        total = self._session.scalar(select(func.count()).select_from(firsts)) or 0
        picked = select(Case, firsts.c.members).join(firsts, firsts.c.id == Case.id)
        if sort is not CaseSort.OPENED:
            picked = picked.outerjoin(due, due.c.case_id == Case.id)
        result = self._session.execute(
            picked.order_by(*ordering(sort_parts(sort, due))).limit(limit).offset(offset)
        ).all()
        items = [row[0] for row in result]
        grouped = {row[0].id: int(row[1]) for row in result if row[0].incident_id is not None}
        return CasePage(items=items, total=total, grouped=grouped)

    def add_timeline(self, entry: CaseTimelineEntry) -> None:
        entry.tenant_id = self._tenant
        self._session.add(entry)

    def timeline(self, case_id: str) -> Sequence[CaseTimelineEntry]:
        return self._session.scalars(
            select(CaseTimelineEntry)
            .where(
                CaseTimelineEntry.tenant_id == self._tenant, CaseTimelineEntry.case_id == case_id
            )
            .order_by(CaseTimelineEntry.at, CaseTimelineEntry.id)
        ).all()


def filtered_cases(tenant_id: str, where: CaseFilter) -> Select[Case]:
    """The tenant's cases matching ``where``, unordered."""
    query = select(Case).where(Case.tenant_id == tenant_id)
    if where.status:
        query = query.where(Case.status.in_(list(where.status)))
    if where.open_only:
        query = query.where(Case.status.not_in(sorted(_CLOSED)))
    if where.exception_type:
        query = query.where(Case.exception_type.in_(list(where.exception_type)))
    if where.queue:
        query = query.where(Case.queue.in_(list(where.queue)))
    if where.priority:
        query = query.where(Case.priority.in_(list(where.priority)))
    if where.assignee:
        query = query.where(Case.assignee == where.assignee)
    if where.order_ref:
        query = query.where(Case.order_ref == where.order_ref)
    if where.opened_from:
        query = query.where(Case.opened_at >= where.opened_from)
    if where.opened_to:
        query = query.where(Case.opened_at < where.opened_to)
    if where.incident_id:
        query = query.where(Case.incident_id == where.incident_id)
    return query


def pending_sla_due(tenant_id: str) -> Subquery:
    """Each case's running SLA clock (at most one pending per case): ``case_id, due_at``."""
    return (
        select(CaseTimer.case_id, CaseTimer.due_at)
        .where(
            CaseTimer.tenant_id == tenant_id,
            CaseTimer.kind == "sla_breach",
            CaseTimer.fired_at.is_(None),
        )
        .subquery()
    )


def sort_parts(sort: CaseSort, due: Subquery) -> list[SortPart]:
    """The order of a sort, ending in the case id so that every row has a unique key.

    ``due`` must be outer-joined to the query for every sort but ``opened``.
    """
    opened = SortPart(Case.opened_at, descending=True)
    impact = SortPart(Case.impact_score, descending=True, nullable=True)
    sla = SortPart(due.c.due_at, nullable=True)
    by_id = SortPart(Case.id)
    if sort is CaseSort.IMPACT:
        return [impact, sla, opened, by_id]
    if sort is CaseSort.SLA:
        return [sla, impact, opened, by_id]
    return [opened, by_id]


def incident_firsts(query: Select[Any], sort: CaseSort, due: Subquery) -> Subquery:
    """One row per incident (its first case in the sort) and per ungrouped case:
    ``id`` and ``members``, the number of matching cases the row stands for."""
    group = func.coalesce(Case.incident_id, Case.id)
    ranked = query.with_only_columns(
        Case.id,
        func.row_number()
        .over(partition_by=group, order_by=ordering(sort_parts(sort, due)))
        .label("rank"),
        func.count().over(partition_by=group).label("members"),
    ).subquery()
    return select(ranked.c.id, ranked.c.members).where(ranked.c.rank == 1).subquery()
