"""POST /v1/events: one canonical event or a JSON array of them.

The request only stores: each event is validated and written to the inbox (or dead-lettered
with its reason) and the answer is 202. Projection, detection and cases happen on the
workers (workflow/worker.py), so a slow detector or a large backlog never slows a sender.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.event_schemas import request_body
from orderops.api.problems import problem
from orderops.api.schemas import IntakeItem, IntakeResponse
from orderops.domain.rate_limits import RateScope
from orderops.domain.roles import Permission
from orderops.ingest.intake import DEAD_LETTER_BODY_LIMIT, IntakeResult, Outcome, accept_body
from orderops.tenancy.tenants import Principal

router = APIRouter(prefix="/v1", tags=["events"], route_class=SafeJsonRoute)

EVENTS_BODY = request_body()
"""The canonical envelope, one schema per event type (``api/event_schemas.py``)."""


@router.post(
    "/events",
    status_code=202,
    response_model=IntakeResponse,
    responses={
        200: {"description": "Nothing new: every event was a duplicate", "model": IntakeResponse},
        207: {"description": "Some events of the batch were rejected", "model": IntakeResponse},
        400: {"description": "Not JSON we can hold (nesting, huge numbers, NUL); dead-lettered"},
        413: {"description": "Body or batch too large; dead-lettered"},
        422: {"description": "Invalid event(s); each dead-lettered with its reason"},
    },
    openapi_extra={"requestBody": EVENTS_BODY},
    summary="Submit one canonical event or a batch (JSON array)",
)
async def post_events(
    request: Request,
    principal: Principal = Depends(require(Permission.EVENTS_WRITE, rate=RateScope.INGEST)),
) -> JSONResponse:
    app = app_of(request)
    body = await _read_capped(request, DEAD_LETTER_BODY_LIMIT)
    results = await run_in_threadpool(
        accept_body,
        app.sessions,
        tenant_id=principal.tenant_id,
        body=body,
        content_type=request.headers.get("content-type"),
        channel="api",
        clock=app.clock,
        limits=app.limits,
    )
    return _respond(results)


def _respond(results: list[IntakeResult]) -> JSONResponse:
    """The answer says what was stored; workers process it after the answer (202)."""
    accepted = [r.inbox_id for r in results if r.outcome is Outcome.ACCEPTED and r.inbox_id]
    rejected = [r for r in results if r.outcome is Outcome.REJECTED]
    body = IntakeResponse(
        accepted=len(accepted),
        duplicates=sum(r.outcome is Outcome.DUPLICATE for r in results),
        rejected=len(rejected),
        results=[IntakeItem(**asdict(r)) for r in results],
    )
    if len(results) == 1 and rejected:
        return problem(
            422,
            "invalid-event",
            "Invalid event",
            rejected[0].reason or "invalid event",
            dead_letter_id=rejected[0].dead_letter_id,
        )
    if rejected and len(rejected) == len(results):
        return problem(
            422,
            "invalid-event",
            "Invalid events",
            "every event of the batch was rejected",
            results=[r.model_dump() for r in body.results],
        )
    status = 207 if rejected else (200 if not accepted else 202)
    return JSONResponse(body.model_dump(mode="json"), status_code=status)


async def _read_capped(request: Request, cap: int) -> bytes:
    """Read at most ``cap`` bytes: enough to dead-letter any real body whole, and no more."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            break
    return b"".join(chunks)
