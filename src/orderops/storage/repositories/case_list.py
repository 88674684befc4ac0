"""The case list's pages: the columns a list row shows, keyset paging, a count only on request.

Issue #19: at 100k cases every page counted all matching cases, sorted them, and loaded
each one's facts. A page now reads ``limit + 1`` rows along an index that ends in the
sort key (the extra row only says whether there is a next page), selects plain columns
(no facts, no entities, nothing to lazy-load), and counts only when asked. Its end is
a ``CasePosition`` the next request starts after; offsets still work for old clients.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, Subquery, func, select
from sqlalchemy.orm import Session

from orderops.storage.repositories.cases import (
    CaseFilter,
    CaseSort,
    filtered_cases,
    incident_firsts,
    pending_sla_due,
    sort_parts,
)
from orderops.storage.repositories.keyset import after, ordering
from orderops.storage.repositories.queue_scopes import queue_scopes, shown_in_queues
from orderops.storage.tables import Case

KeyValue = datetime | int | None

LIST_COLUMNS = (
    Case.id,
    Case.order_ref,
    Case.exception_type,
    Case.status,
    Case.summary,
    Case.detected_at,
    Case.opened_at,
    Case.updated_at,
    Case.closed_at,
    Case.close_reason,
    Case.occurrences,
    Case.reopen_count,
    Case.version,
    Case.priority,
    Case.impact_score,
    Case.queue,
    Case.assignee,
    Case.jeopardy,
    Case.incident_id,
)
"""What a list row shows: everything of a case but its facts and impact explanation."""

_SLA_DUE = "sla_due_at"


@dataclass(frozen=True)
class CasePosition:
    """The last row of a page: the next page starts right after it in the same sort."""

    sort: CaseSort
    key: tuple[KeyValue, ...]
    """The row's values of the sort's columns before the id: (opened_at,) newest first;
    (impact_score, SLA due, opened_at) by impact; (SLA due, impact_score, opened_at) by SLA."""
    case_id: str


@dataclass(frozen=True)
class CaseListPage:
    rows: Sequence[Row[Any]]
    """Rows with the ``LIST_COLUMNS`` by name."""
    next: CasePosition | None
    """Where the next page starts; None on the last page."""
    total: int | None = None
    """Every matching case (or row, collapsed), only when counting was asked for."""
    grouped: Mapping[str, int] = field(default_factory=dict)
    """With collapsed incidents: case id of an incident's row -> cases that row stands for."""


class CaseListing:
    """Pages of the tenant's case list; every query is scoped to ``tenant_id``."""

    def __init__(self, session: Session, tenant_id: str) -> None:
        self._session = session
        self._tenant = tenant_id

    def page(
        self,
        where: CaseFilter,
        *,
        sort: CaseSort = CaseSort.OPENED,
        limit: int,
        start_after: CasePosition | None = None,
        offset: int = 0,
        collapse_incidents: bool = False,
        count: bool = False,
    ) -> CaseListPage:
        """The ``limit`` rows after ``start_after`` (or after ``offset`` rows).

        With ``collapse_incidents`` an incident's cases show as one row (its first case
        in the sort), so a storm does not bury the queue.
        """
        if start_after is not None and start_after.sort is not sort:
            raise ValueError(f"a position in sort {start_after.sort} cannot page sort {sort}")
        due = pending_sla_due(self._tenant)
        matching = filtered_cases(self._tenant, where)
        if where.queue:  # a scoped queue shows only its cases in scope
            in_view = shown_in_queues(queue_scopes(self._session, self._tenant, where.queue))
            matching = matching if in_view is None else matching.where(in_view)
        if sort is not CaseSort.OPENED:
            matching = matching.outerjoin(due, due.c.case_id == Case.id)
        firsts = incident_firsts(matching, sort, due) if collapse_incidents else None
        query = self._rows(matching, firsts, sort, due)
        if start_after is not None:
            values = (*start_after.key, start_after.case_id)
            query = query.where(after(sort_parts(sort, due), values))
        query = query.order_by(*ordering(sort_parts(sort, due))).limit(limit + 1).offset(offset)
        rows = self._session.execute(query).all()
        shown = rows[:limit]
        return CaseListPage(
            rows=shown,
            next=_position(shown[-1], sort) if len(rows) > limit else None,
            total=self._count(matching, firsts) if count else None,
            grouped={r.id: int(r.members) for r in shown if firsts is not None and r.incident_id},
        )

    def _rows(
        self, matching: Select[Any], firsts: Subquery | None, sort: CaseSort, due: Subquery
    ) -> Select[Any]:
        columns: list[Any] = list(LIST_COLUMNS)
        if sort is not CaseSort.OPENED:
            columns.append(due.c.due_at.label(_SLA_DUE))
        if firsts is None:
            return matching.with_only_columns(*columns)
        picked = (
            select(*columns, firsts.c.members)
            .select_from(Case)
            .join(firsts, firsts.c.id == Case.id)
        )
        if sort is not CaseSort.OPENED:
            picked = picked.outerjoin(due, due.c.case_id == Case.id)
        return picked

    def _count(self, matching: Select[Any], firsts: Subquery | None) -> int:
        counted = firsts if firsts is not None else matching.with_only_columns(Case.id).subquery()
        return int(self._session.scalar(select(func.count()).select_from(counted)) or 0)


def _position(row: Row[Any], sort: CaseSort) -> CasePosition:
    if sort is CaseSort.IMPACT:
        key: tuple[KeyValue, ...] = (row.impact_score, getattr(row, _SLA_DUE), row.opened_at)
    elif sort is CaseSort.SLA:
        key = (getattr(row, _SLA_DUE), row.impact_score, row.opened_at)
    else:
        key = (row.opened_at,)
    return CasePosition(sort=sort, key=key, case_id=row.id)
