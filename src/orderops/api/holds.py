"""GET /v1/holds, GET /v1/holds/{id} and POST /v1/holds/{id}/release: the desk's holds,
and ending one by hand.

Reading is for every desk role. Releasing lets an order ship that someone decided should
not, so it takes the role that approves actions (a person, never a service key); the
release is queued to the vendor through the outbox like any other effect. Another
tenant's hold, or one on a case outside the caller's scope, is not found. A hold's GET
sends its state as a strong ``ETag``; a release sent with a stale ``If-Match`` is 412
(``api/etags.py``). The list pages by signed cursor (``api/cursors.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.cursors import CURSOR_DESCRIPTION, LINK_HEADER, Listing
from orderops.api.etags import IfMatchTag, check_if_match, state_tag
from orderops.api.hold_schemas import HoldList, HoldRead
from orderops.api.params import Id
from orderops.api.problems import problem_responses
from orderops.api.work_common import Approver, Reader, actor_of
from orderops.decide import holds
from orderops.domain.errors import NotFound
from orderops.domain.holds import HoldStatus
from orderops.storage.tables import DeskHold
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

router = APIRouter(prefix="/v1/holds", tags=["holds"], route_class=SafeJsonRoute)
LISTING = Listing("holds")
ETAG_HEADER: dict[str, Any] = {
    "description": "The hold's state (strong): send it as If-Match to release it",
    "schema": {"type": "string"},
}


@router.get(
    "",
    response_model=HoldList,
    summary="The desk's holds, newest first",
    responses={200: {"headers": {"Link": LINK_HEADER}}, **problem_responses(400)},
)
async def list_holds(
    request: Request,
    response: Response,
    principal: Reader,
    status: Annotated[HoldStatus | None, Query(description="only holds in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(description=CURSOR_DESCRIPTION)] = None,
) -> HoldList:
    """A page holds at most ``limit`` holds, fewer when some sit on cases outside the
    caller's scope; ``next_cursor`` is null only on the last page."""
    app = app_of(request)
    after = LISTING.start_after(request, principal.tenant_id, cursor)

    def read() -> tuple[HoldList, tuple[tuple[datetime], str] | None]:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            rows = holds.list_holds(uow, status=status, limit=limit + 1, after=after)
            shown = rows[:limit]
            visible = [h for h in shown if uow.cases.get(h.case_id) is not None]
            last = ((shown[-1].placed_at,), shown[-1].id) if len(rows) > limit else None
            return HoldList(items=[HoldRead.model_validate(h) for h in visible]), last

    listing, last = await run_in_threadpool(read)
    listing.next_cursor = LISTING.next_cursor(request, response, principal.tenant_id, last)
    return listing


@router.get(
    "/{hold_id}",
    response_model=HoldRead,
    summary="One hold, with its state as a strong ETag",
    responses={200: {"headers": {"ETag": ETAG_HEADER}}},
)
async def get_hold(
    request: Request, response: Response, principal: Reader, hold_id: Id
) -> HoldRead:
    hold = await run_in_threadpool(_current, request, principal, hold_id)
    response.headers["ETag"] = state_tag(hold)
    return hold


@router.post(
    "/{hold_id}/release",
    response_model=HoldRead,
    summary="Release a hold now: the vendor's release is queued through the outbox",
    responses={
        200: {"headers": {"ETag": ETAG_HEADER}},
        **problem_responses(403, 404, 409, 412),
    },
)
async def release_hold(
    request: Request,
    response: Response,
    principal: Approver,
    hold_id: Id,
    if_match: IfMatchTag = None,
) -> HoldRead:
    app = app_of(request)
    if if_match is not None:  # 412 when the hold has changed since it was read
        current = await run_in_threadpool(_current, request, principal, hold_id)
        check_if_match(if_match, state_tag(current))
    hold = await run_in_threadpool(
        holds.release_by_hand,
        app.sessions,
        tenant_id=principal.tenant_id,
        hold_id=hold_id,
        actor=actor_of(principal),
        clock=app.clock,
        scope=principal.scope,
    )
    released = HoldRead.model_validate(hold)
    response.headers["ETag"] = state_tag(released)
    return released


def _current(request: Request, principal: Principal, hold_id: str) -> HoldRead:
    """Another tenant's hold, or one on a case outside the caller's scope, is not found."""
    with UnitOfWork(
        app_of(request).sessions,
        tenant_id=principal.tenant_id,
        write=False,
        scope=principal.scope,
    ) as uow:
        hold = uow.session.scalar(
            select(DeskHold).where(
                DeskHold.tenant_id == principal.tenant_id, DeskHold.id == hold_id
            )
        )
        if hold is None or uow.cases.get(hold.case_id) is None:
            raise NotFound(f"no hold {hold_id}")
        return HoldRead.model_validate(hold)
