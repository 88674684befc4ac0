"""GET /v1/cases and /v1/cases/{id}: always within the caller's tenant.

The list pages by cursor (keyset): each page ends with a signed ``next_cursor`` (and a
``Link: rel="next"`` header) naming its last row, and the next page starts after it.
Offsets still work; the exact total is counted only with ``count=true`` (issue #19).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import StringConstraints

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.case_cursor import CursorCodec, InvalidCursor
from orderops.api.hold_schemas import HoldRead
from orderops.api.params import NO_NUL, Id
from orderops.api.problems import problem_responses
from orderops.api.schemas import (
    CaseDetail,
    CaseList,
    CaseRead,
    TicketClassRead,
    TimelineEntryRead,
)
from orderops.bootstrap import App
from orderops.decide.holds import holds_of_case
from orderops.domain.cases import CaseStatus, ExceptionType
from orderops.domain.errors import NotFound
from orderops.domain.roles import Permission
from orderops.domain.routing import Priority
from orderops.resolve.ticket_classes import latest_ticket_class
from orderops.storage.repositories.case_list import CaseListing, CasePosition
from orderops.storage.repositories.cases import CaseFilter, CaseSort
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

router = APIRouter(prefix="/v1/cases", tags=["cases"], route_class=SafeJsonRoute)
Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]
QueueName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]

MAX_PAGE = 500


@router.get(
    "",
    response_model=CaseList,
    summary="List cases, newest first or by impact or SLA",
    responses=problem_responses(400),
)
async def list_cases(
    request: Request,
    response: Response,
    principal: Reader,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
    type: Annotated[list[ExceptionType] | None, Query()] = None,
    queue: Annotated[list[QueueName] | None, Query()] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    order_ref: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    open: Annotated[bool, Query(description="only cases not resolved or rejected")] = False,
    opened_from: datetime | None = None,
    opened_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the previous page, same sort and filters")
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="offset paging (slower); not with a cursor")
    ] = 0,
    count: Annotated[
        bool, Query(description="also count every matching case (`total`); costs a scan")
    ] = False,
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
        queue=list(queue or []),
        priority=[str(p) for p in priority or []],
        assignee=assignee,
        order_ref=order_ref,
        open_only=open,
        opened_from=opened_from,
        opened_to=opened_to,
        incident_id=incident_id,
    )
    app = app_of(request)
    codec = CursorCodec(app.settings.secret_key, tenant_id=principal.tenant_id)
    start_after = codec.decode(cursor, sort=sort) if cursor is not None else None
    if start_after is not None and offset:
        raise InvalidCursor("page by cursor or by offset, not both")
    view = _View(
        sort=sort,
        collapse_incidents=collapse_incidents,
        limit=limit,
        offset=offset,
        start_after=start_after,
        count=count,
    )
    listing, last = await run_in_threadpool(_list, app, principal, where, view)
    if last is not None:
        listing.next_cursor = codec.encode(last)
        following = request.url.remove_query_params("offset").include_query_params(
            cursor=listing.next_cursor
        )
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return listing


@router.get("/{case_id}", response_model=CaseDetail, summary="One case with its facts and timeline")
async def get_case(request: Request, principal: Reader, case_id: Id) -> CaseDetail:
    return await run_in_threadpool(_get, app_of(request), principal, case_id)


@dataclass(frozen=True)
class _View:
    sort: CaseSort
    collapse_incidents: bool
    limit: int
    offset: int
    start_after: CasePosition | None
    count: bool


def _list(
    app: App, principal: Principal, where: CaseFilter, view: _View
) -> tuple[CaseList, CasePosition | None]:
    """The page (without its cursor, which the caller signs) and where it ended; only the
    cases in the caller's scope (the unit of work's guard)."""
    tenant_id, scope = principal.tenant_id, principal.scope
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False, scope=scope) as uow:
        page = CaseListing(uow.session, tenant_id).page(
            where,
            sort=view.sort,
            limit=view.limit,
            start_after=view.start_after,
            offset=view.offset,
            collapse_incidents=view.collapse_incidents,
            count=view.count,
        )
    items = [
        CaseRead.model_validate({**row._mapping, "grouped_cases": page.grouped.get(row.id)})
        for row in page.rows
    ]
    by_offset = view.start_after is None and page.next is not None
    listing = CaseList(
        items=items,
        limit=view.limit,
        total=page.total,
        offset=view.offset,
        next_offset=view.offset + len(items) if by_offset else None,
    )
    return listing, page.next


def _get(app: App, principal: Principal, case_id: str) -> CaseDetail:
    """Another tenant's case, or one outside the caller's scope, is not found."""
    tenant_id, scope = principal.tenant_id, principal.scope
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False, scope=scope) as uow:
        case = uow.cases.get(case_id)
        if case is None:
            raise NotFound(f"no case {case_id}")
        timeline = [TimelineEntryRead.model_validate(t) for t in uow.cases.timeline(case.id)]
        return CaseDetail(
            **CaseRead.model_validate(case).model_dump(),
            ticket_class=_ticket_class(uow, case.order_ref),
            facts=case.facts,
            impact=case.impact,
            timeline=timeline,
            holds=[HoldRead.model_validate(h) for h in holds_of_case(uow, case.id)],
        )


def _ticket_class(uow: UnitOfWork, order_ref: str) -> TicketClassRead | None:
    found = latest_ticket_class(uow, order_ref)
    return None if found is None else TicketClassRead.model_validate(found)
