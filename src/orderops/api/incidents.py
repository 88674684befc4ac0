"""GET /v1/incidents: storms of cases with one root cause, with their counts.

An incident's cases are listed with GET /v1/cases?incident_id=...; the collapsed queue
(GET /v1/cases?collapse_incidents=true) shows each incident as one row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.cursors import CURSOR_DESCRIPTION, LINK_HEADER, Listing
from orderops.api.params import Id
from orderops.api.problems import problem_responses
from orderops.bootstrap import App
from orderops.cases.incidents import list_incidents
from orderops.domain.errors import NotFound
from orderops.domain.roles import Permission
from orderops.storage.tables.incidents import Incident
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

router = APIRouter(prefix="/v1/incidents", tags=["incidents"], route_class=SafeJsonRoute)
Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]
LISTING = Listing("incidents")


class IncidentRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                    "key": "carrier_delay:carrier:ups",
                    "type": "carrier_delay",
                    "dimension": "carrier",
                    "summary": "42 orders delayed at UPS since 09:10",
                    "opened_at": "2026-11-20T09:10:00Z",
                    "closed_at": None,
                    "case_count": 42,
                    "open_cases": 37,
                }
            ]
        }
    )

    id: str
    key: str
    type: str
    dimension: str
    summary: str
    opened_at: datetime
    closed_at: datetime | None
    case_count: int
    """Every case ever grouped under it (for a caller limited to a scope: in that scope)."""
    open_cases: int


class IncidentList(BaseModel):
    """A page of incidents. Follow ``next_cursor`` (also the ``Link: rel="next"`` header):
    it resumes after this page's last row, so an incident opened meanwhile never shifts a
    row onto two pages."""

    items: list[IncidentRead]
    total: int
    limit: int
    offset: int
    next_offset: int | None = Field(
        default=None, description="For offset paging: the next page's offset (null with cursor)."
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


@router.get(
    "",
    response_model=IncidentList,
    summary="Incidents, newest first, with counts",
    responses={200: {"headers": {"Link": LINK_HEADER}}, **problem_responses(400)},
)
async def get_incidents(
    request: Request,
    response: Response,
    principal: Reader,
    open: Annotated[bool, Query(description="only incidents not yet closed")] = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description=CURSOR_DESCRIPTION)] = None,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="offset paging (slower); not with a cursor")
    ] = 0,
) -> IncidentList:
    after = LISTING.start_after(request, principal.tenant_id, cursor, offset=offset)
    page, last = await run_in_threadpool(
        _list, app_of(request), principal, open, limit, offset, after
    )
    page.next_cursor = LISTING.next_cursor(request, response, principal.tenant_id, last)
    return page


@router.get("/{incident_id}", response_model=IncidentRead, summary="One incident")
async def get_incident(request: Request, principal: Reader, incident_id: Id) -> IncidentRead:
    return await run_in_threadpool(_get, app_of(request), principal, incident_id)


def _read(incident: Incident, open_cases: int, case_count: int) -> IncidentRead:
    return IncidentRead(
        id=incident.id,
        key=incident.key,
        type=incident.type,
        dimension=incident.dimension,
        summary=incident.summary,
        opened_at=incident.opened_at,
        closed_at=incident.closed_at,
        case_count=case_count,
        open_cases=open_cases,
    )


def _list(
    app: App,
    principal: Principal,
    open_only: bool,
    limit: int,
    offset: int,
    after: tuple[object, ...] | None,
) -> tuple[IncidentList, tuple[tuple[datetime], str] | None]:
    """A scoped caller sees the incidents with cases in scope, counting only those. The
    page, and the last row's position when another page follows."""
    with UnitOfWork(
        app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
    ) as uow:
        rows, total = list_incidents(
            uow, open_only=open_only, limit=limit + 1, offset=offset, after=after
        )
        items = [_read(*row) for row in rows[:limit]]
    more = len(rows) > limit
    last = ((items[-1].opened_at,), items[-1].id) if more else None
    by_offset = after is None and more
    page = IncidentList(
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        next_offset=offset + len(items) if by_offset else None,
    )
    return page, last


def _get(app: App, principal: Principal, incident_id: str) -> IncidentRead:
    with UnitOfWork(
        app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
    ) as uow:
        rows, _ = list_incidents(uow, open_only=False, limit=1, offset=0, incident_id=incident_id)
        if not rows:
            raise NotFound(f"no incident {incident_id}")
        return _read(*rows[0])
