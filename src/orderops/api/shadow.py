"""Shadow mode over HTTP: the running candidate with its divergence report, and its
lifecycle (start, stop, propose promotion, approve promotion).

Administrators only (``policies:manage``; there is no read-only policy role), and only
those who see the whole tenant: the report spans every order, so a caller limited by an
access scope is answered 404, as if there were nothing. Thin: each route calls one
service of ``workflow.shadow`` / ``workflow.shadow_report``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.problems import problem_responses
from orderops.api.work_common import Manager
from orderops.workflow import shadow
from orderops.workflow.candidate_policy import MAX_CANDIDATE_BYTES
from orderops.workflow.shadow import CandidateInfo
from orderops.workflow.shadow_report import InvalidWindow, read_view

router = APIRouter(prefix="/v1/shadow", tags=["shadow"], route_class=SafeJsonRoute)
When = Annotated[
    datetime | None, Query(description="ISO 8601 with a time zone (default: the run's bounds).")
]


class CandidateRead(BaseModel):
    id: str
    version: int
    status: str
    digest: str
    text: str
    started_by: str
    started_at: datetime
    stopped_by: str | None
    stopped_at: datetime | None
    proposed_by: str | None
    proposed_at: datetime | None
    promoted_by: str | None
    promoted_at: datetime | None
    promoted_versions: dict[str, Any] | None


class ShadowRead(BaseModel):
    candidate: CandidateRead | None
    """None: the tenant never ran a candidate."""
    report: dict[str, Any] | None
    policy_diff: list[dict[str, Any]]


class CandidateWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate: str = Field(min_length=1, max_length=MAX_CANDIDATE_BYTES)
    """The candidate policy file (YAML): any of fulfillment_policy, routing_rules,
    approval_policy, playbook; a section left out is the live one."""


def _read(found: CandidateInfo) -> CandidateRead:
    return CandidateRead.model_validate(found, from_attributes=True)


@router.get("", response_model=ShadowRead, responses=problem_responses(404, 422))
async def get_shadow(
    request: Request, principal: Manager, since: When = None, until: When = None
) -> ShadowRead:
    """The running candidate (else the latest) and how it diverges from live."""
    for value in (since, until):
        if value is not None and value.tzinfo is None:
            raise InvalidWindow("since and until need a time zone (e.g. 2026-12-01T00:00:00Z)")
    app = app_of(request)
    view = await run_in_threadpool(
        lambda: read_view(
            app.sessions,
            tenant_id=principal.tenant_id,
            scope=principal.scope,
            now=app.clock.now(),
            since=since,
            until=until,
        )
    )
    if view is None:
        return ShadowRead(candidate=None, report=None, policy_diff=[])
    return ShadowRead(
        candidate=_read(view.candidate), report=view.report.as_json(), policy_diff=view.diff
    )


@router.post(
    "", response_model=CandidateRead, status_code=201, responses=problem_responses(404, 409, 422)
)
async def start(request: Request, principal: Manager, body: CandidateWrite) -> CandidateRead:
    """Run a candidate beside the live policy (one at a time per tenant)."""
    shadow.require_whole_tenant(principal.scope)
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: shadow.start(
            app.sessions,
            tenant_id=principal.tenant_id,
            text=body.candidate,
            actor=principal.identity,
            clock=app.clock,
        )
    )
    return _read(found)


@router.post("/stop", response_model=CandidateRead, responses=problem_responses(404))
async def stop(request: Request, principal: Manager) -> CandidateRead:
    shadow.require_whole_tenant(principal.scope)
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: shadow.stop(
            app.sessions, tenant_id=principal.tenant_id, actor=principal.identity, clock=app.clock
        )
    )
    return _read(found)


@router.post("/promotion", response_model=CandidateRead, responses=problem_responses(404, 409))
async def propose(request: Request, principal: Manager) -> CandidateRead:
    """Propose making the candidate the live policy; another administrator approves it."""
    shadow.require_whole_tenant(principal.scope)
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: shadow.propose_promotion(
            app.sessions, tenant_id=principal.tenant_id, actor=principal.identity, clock=app.clock
        )
    )
    return _read(found)


@router.post(
    "/promotion/approve", response_model=CandidateRead, responses=problem_responses(403, 404, 409)
)
async def approve(request: Request, principal: Manager) -> CandidateRead:
    """Approve the proposed promotion (not its proposer): the candidate's sections become
    new versions of the live policies, each audited by its own store."""
    shadow.require_whole_tenant(principal.scope)
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: shadow.approve_promotion(
            app.sessions, tenant_id=principal.tenant_id, principal=principal, clock=app.clock
        )
    )
    return _read(found)
