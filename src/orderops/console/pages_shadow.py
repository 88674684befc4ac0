"""The shadow mode page: the running candidate, how it diverges from live (the same report
as ``GET /v1/shadow``), the policy diff, and the promotion buttons (propose; approve, for
an administrator other than the proposer). Starting and stopping a candidate is done with
``orderops shadow`` or the API, where the file is."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.web import PREFIX, ConsoleRoute, Signed, app_of, form_of, redirect, render
from orderops.domain.roles import Permission
from orderops.workflow import shadow
from orderops.workflow.shadow_report import read_view

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@router.get("/shadow")
async def shadow_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.POLICIES_MANAGE)
    app = app_of(request)
    view = await run_in_threadpool(
        lambda: read_view(
            app.sessions, tenant_id=viewer.tenant_id, scope=viewer.scope, now=app.clock.now()
        )
    )
    return render(request, "shadow.html", view=view, me=viewer.principal.identity)


@router.post("/shadow/promote")
async def shadow_promote(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.POLICIES_MANAGE)
    await form_of(request, viewer)
    shadow.require_whole_tenant(viewer.scope)
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: shadow.propose_promotion(
            app.sessions,
            tenant_id=viewer.tenant_id,
            actor=viewer.principal.identity,
            clock=app.clock,
        )
    )
    return redirect(
        f"{PREFIX}/shadow",
        message=f"Promotion of candidate v{found.version} proposed: another administrator "
        "approves it.",
    )


@router.post("/shadow/approve")
async def shadow_approve(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.POLICIES_MANAGE)
    await form_of(request, viewer)
    shadow.require_whole_tenant(viewer.scope)
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: shadow.approve_promotion(
            app.sessions, tenant_id=viewer.tenant_id, principal=viewer.principal, clock=app.clock
        )
    )
    stored = ", ".join(f"{k} v{v}" for k, v in (found.promoted_versions or {}).items())
    return redirect(
        f"{PREFIX}/shadow",
        message=f"Candidate v{found.version} promoted: {stored or 'nothing differed from live'}.",
    )
