"""GET /v1/incidents: storms of cases with one root cause, with their counts.

An incident's cases are listed with GET /v1/cases?incident_id=...; the collapsed queue
(GET /v1/cases?collapse_incidents=true) shows each incident as one row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.params import Id
from orderops.bootstrap import App
from orderops.cases.incidents import list_incidents
from orderops.domain.errors import NotFound
from orderops.domain.roles import Permission
from orderops.storage.tables.incidents import Incident
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

router = APIRouter(prefix="/v1/incidents", tags=["incidents"], route_class=SafeJsonRoute)
Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]


class IncidentRead(BaseModel):
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
    items: list[IncidentRead]
    total: int
    limit: int
    offset: int
    next_offset: int | None


@router.get("", response_model=IncidentList, summary="Incidents, newest first, with counts")
async def get_incidents(
    request: Request,
    principal: Reader,
    open: Annotated[bool, Query(description="only incidents not yet closed")] = True,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> IncidentList:
    return await run_in_threadpool(_list, app_of(request), principal, open, limit, offset)


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


def _list(app: App, principal: Principal, open_only: bool, limit: int, offset: int) -> IncidentList:
    """A scoped caller sees the incidents with cases in scope, counting only those."""
    with UnitOfWork(
        app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
    ) as uow:
        rows, total = list_incidents(uow, open_only=open_only, limit=limit, offset=offset)
        items = [_read(*row) for row in rows]
    next_offset = offset + len(items) if offset + len(items) < total else None
    return IncidentList(
        items=items, total=total, limit=limit, offset=offset, next_offset=next_offset
    )


def _get(app: App, principal: Principal, incident_id: str) -> IncidentRead:
    with UnitOfWork(
        app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
    ) as uow:
        rows, _ = list_incidents(uow, open_only=False, limit=1, offset=0, incident_id=incident_id)
        if not rows:
            raise NotFound(f"no incident {incident_id}")
        return _read(*rows[0])
