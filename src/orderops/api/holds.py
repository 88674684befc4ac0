"""GET /v1/holds and POST /v1/holds/{id}/release: the desk's holds, and ending one by hand.

Reading is for every desk role. Releasing lets an order ship that someone decided should
not, so it takes the role that approves actions (a person, never a service key); the
release is queued to the vendor through the outbox like any other effect. Another
tenant's hold, or one on a case outside the caller's scope, is not found.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.hold_schemas import HoldList, HoldRead
from orderops.api.params import Id
from orderops.api.problems import problem_responses
from orderops.api.work_common import Approver, Reader, actor_of
from orderops.decide import holds
from orderops.domain.holds import HoldStatus
from orderops.storage.uow import UnitOfWork

router = APIRouter(prefix="/v1/holds", tags=["holds"], route_class=SafeJsonRoute)


@router.get("", response_model=HoldList, summary="The desk's holds, newest first")
async def list_holds(
    request: Request,
    principal: Reader,
    status: Annotated[HoldStatus | None, Query(description="only holds in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> HoldList:
    app = app_of(request)

    def read() -> HoldList:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            rows = holds.list_holds(uow, status=status, limit=limit)
            visible = [h for h in rows if uow.cases.get(h.case_id) is not None]
            return HoldList(items=[HoldRead.model_validate(h) for h in visible])

    return await run_in_threadpool(read)


@router.post(
    "/{hold_id}/release",
    response_model=HoldRead,
    summary="Release a hold now: the vendor's release is queued through the outbox",
    responses=problem_responses(403, 404, 409),
)
async def release_hold(request: Request, principal: Approver, hold_id: Id) -> HoldRead:
    app = app_of(request)
    hold = await run_in_threadpool(
        holds.release_by_hand,
        app.sessions,
        tenant_id=principal.tenant_id,
        hold_id=hold_id,
        actor=actor_of(principal),
        clock=app.clock,
        scope=principal.scope,
    )
    return HoldRead.model_validate(hold)
