"""GET /v1/cases and /v1/cases/{id}: always within the caller's tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.params import NO_NUL, Id
from orderops.api.schemas import CaseDetail, CaseList, CaseRead, TimelineEntryRead
from orderops.bootstrap import App
from orderops.domain.cases import CaseStatus, ExceptionType
from orderops.domain.errors import NotFound
from orderops.domain.roles import Permission
from orderops.storage.repositories.cases import CaseFilter, CaseSort
from orderops.storage.uow import UnitOfWork
from orderops.workflow.tenants import Principal

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=SafeJsonRoute)
Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]


@router.get("", response_model=CaseList, summary="List cases, newest first or by impact or SLA")
async def list_cases(
    request: Request,
    principal: Reader,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    type: Annotated[list[ExceptionType] | None, Query()] = None,
    order_ref: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    open: Annotated[bool, Query(description="only cases not resolved or rejected")] = False,
    opened_from: datetime | None = None,
    opened_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    sort: Annotated[
        CaseSort, Query(description="opened (newest first), impact (highest first) or sla")
    ] = CaseSort.OPENED,
    collapse_incidents: Annotated[
        bool, Query(description="one row per incident plus the ungrouped cases")
    ] = False,
    incident_id: Annotated[str | None, Query(max_length=32, pattern=NO_NUL)] = None,
) -> CaseList:
    where = CaseFilter(
        status=[str(s) for s in status or []],
        exception_type=[str(t) for t in type or []],
        order_ref=order_ref,
        open_only=open,
        opened_from=opened_from,
        opened_to=opened_to,
        incident_id=incident_id,
    )
    view = _View(sort=sort, collapse_incidents=collapse_incidents, limit=limit, offset=offset)
    return await run_in_threadpool(_list, app_of(request), principal.tenant_id, where, view)


@router.get("/{case_id}", response_model=CaseDetail, summary="One case with its facts and timeline")
async def get_case(request: Request, principal: Reader, case_id: Id) -> CaseDetail:
    return await run_in_threadpool(_get, app_of(request), principal.tenant_id, case_id)


@dataclass(frozen=True)
class _View:
    sort: CaseSort
    collapse_incidents: bool
    limit: int
    offset: int


def _list(app: App, tenant_id: str, where: CaseFilter, view: _View) -> CaseList:
    limit, offset = view.limit, view.offset
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        page = uow.cases.search(
            where,
            limit=limit,
            offset=offset,
            sort=view.sort,
            collapse_incidents=view.collapse_incidents,
        )
        items = [
            CaseRead.model_validate(c).model_copy(update={"grouped_cases": page.grouped.get(c.id)})
            for c in page.items
        ]
    next_offset = offset + len(items) if offset + len(items) < page.total else None
    return CaseList(
        items=items, total=page.total, limit=limit, offset=offset, next_offset=next_offset
    )


def _get(app: App, tenant_id: str, case_id: str) -> CaseDetail:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        case = uow.cases.get(case_id)
        if case is None:
            raise NotFound(f"no case {case_id}")
        timeline = [TimelineEntryRead.model_validate(t) for t in uow.cases.timeline(case.id)]
        return CaseDetail(
            **CaseRead.model_validate(case).model_dump(),
            facts=case.facts,
            impact=case.impact,
            timeline=timeline,
        )
