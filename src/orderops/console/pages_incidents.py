"""Incidents in the console: the open storms, and one storm's page, where a reviewer acts
on its cases at once (claim, assign, approve, propose the same action to each).

The page's form posts to the queue's own bulk route (``pages_find.bulk``), so each case
goes through its single button's service: the approval policy, maker-checker and the
remedy limits judge every case apart, the answer lists each case's outcome, and the
audit holds one entry per case.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.action_forms import Widget
from orderops.console.incident_view import bulk_form, bulk_kinds, incident_page, incidents
from orderops.console.web import PREFIX, ConsoleRoute, Signed, app_of, render
from orderops.domain.roles import Permission
from orderops.storage.uow import UnitOfWork

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@router.get("/incidents")
async def incidents_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.CASES_READ)
    app = app_of(request)
    every = request.query_params.get("all") == "1"

    def read() -> list[Any]:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            found = incidents(uow, open_only=not every)
            uow.session.expunge_all()
            return found

    return render(request, "incidents.html", rows=await run_in_threadpool(read), every=every)


@router.get("/incidents/{incident_id}")
async def incident_detail(request: Request, viewer: Signed, incident_id: str) -> Response:
    viewer.need(Permission.CASES_READ)
    app = app_of(request)
    now = app.clock.now()
    kind = request.query_params.get("propose", "")

    def read() -> Any:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            page = incident_page(uow, incident_id, me=viewer.user.display_name, now=now)
            uow.session.expunge_all()
            return page

    page = await run_in_threadpool(read)
    return render(
        request,
        "incident.html",
        page=page,
        incident=page.incident,
        form=bulk_form(kind, page.currency) if kind else None,
        kinds=bulk_kinds(),
        Widget=Widget,
        now=now,
    )
