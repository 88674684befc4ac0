"""Case queries: the open case of an order and cause, listing with filters, timelines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderops.domain.cases import CLOSED_STATUSES
from orderops.storage.tables import Case, CaseTimelineEntry

_CLOSED = frozenset(str(s) for s in CLOSED_STATUSES)


@dataclass(frozen=True, kw_only=True)
class CaseFilter:
    status: Sequence[str] = ()
    exception_type: Sequence[str] = ()
    order_ref: str | None = None
    open_only: bool = False
    opened_from: datetime | None = None
    opened_to: datetime | None = None


@dataclass(frozen=True)
class CasePage:
    items: Sequence[Case]
    total: int


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
        """Per exception type, the order's open case, else its most recently opened one."""
        cases = self._session.scalars(
            select(Case)
            .where(Case.tenant_id == self._tenant, Case.order_id == order_id)
            .order_by(Case.opened_at)
        ).all()
        chosen: dict[str, Case] = {}
        for case in cases:  # later and open cases override earlier and closed ones
            current = chosen.get(case.exception_type)
            if current is None or case.status not in _CLOSED or current.status in _CLOSED:
                chosen[case.exception_type] = case
        return chosen

    def search(self, where: CaseFilter, *, limit: int, offset: int) -> CasePage:
        query = select(Case).where(Case.tenant_id == self._tenant)
        if where.status:
            query = query.where(Case.status.in_(list(where.status)))
        if where.open_only:
            query = query.where(Case.status.not_in([str(s) for s in CLOSED_STATUSES]))
        if where.exception_type:
            query = query.where(Case.exception_type.in_(list(where.exception_type)))
        if where.order_ref:
            query = query.where(Case.order_ref == where.order_ref)
        if where.opened_from:
            query = query.where(Case.opened_at >= where.opened_from)
        if where.opened_to:
            query = query.where(Case.opened_at < where.opened_to)
        total = self._session.scalar(select(func.count()).select_from(query.subquery())) or 0
        items = self._session.scalars(
            query.order_by(Case.opened_at.desc(), Case.id).limit(limit).offset(offset)
        ).all()
        return CasePage(items=items, total=total)

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
