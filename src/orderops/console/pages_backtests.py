"""The backtest pages: the tenant's runs with their status, a form that requests one (queued
for a worker, as ``POST /v1/backtests``: the window and the candidate file's text, YAML or
JSON, CSRF-checked), and one run's report with the policy diff (the same document as
``GET /v1/backtests/{id}``). Administrators who see the whole tenant only, as for the API;
another tenant's run is not found."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.web import (
    PREFIX,
    ConsoleRoute,
    Signed,
    app_of,
    form_of,
    redirect,
    render,
)
from orderops.domain.roles import Permission
from orderops.storage.tables import BacktestRun
from orderops.storage.uow import UnitOfWork
from orderops.workflow.backtest import get_run, list_runs, require_whole_tenant
from orderops.workflow.backtest_requests import moment, pace_from, request_run

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@router.get("/backtests")
async def backtests_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.POLICIES_MANAGE)
    app = app_of(request)

    def read() -> list[dict[str, Any]]:
        if not viewer.scope.unrestricted:
            return []  # a report spans the tenant: none to see within a scope
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, write=False) as uow:
            return [_plain(row) for row in list_runs(uow)]

    runs = await run_in_threadpool(read)
    return render(request, "backtests.html", runs=runs)


@router.post("/backtests")
async def backtest_request(request: Request, viewer: Signed) -> Response:
    """Queue a backtest from the form; a worker runs it, the list shows its status."""
    viewer.need(Permission.POLICIES_MANAGE)
    form = await form_of(request, viewer)
    require_whole_tenant(viewer.scope)
    app = app_of(request)
    start = moment(form.get("from", ""), "from")
    end = moment(form.get("to", ""), "to")
    pace = pace_from(form.get("sweep_minutes", ""), form.get("tick_minutes", ""))
    run_id = await run_in_threadpool(
        lambda: request_run(
            app.sessions,
            tenant_id=viewer.tenant_id,
            start=start,
            end=end,
            candidate_text=form.get("candidate", ""),
            actor=viewer.principal.identity,
            clock=app.clock,
            pace=pace,
        )
    )
    return redirect(
        f"{PREFIX}/backtests",
        message=f"Backtest {run_id} queued: a worker runs it; its status shows below.",
    )


@router.get("/backtests/{run_id}")
async def backtest_page(request: Request, viewer: Signed, run_id: str) -> Response:
    viewer.need(Permission.POLICIES_MANAGE)
    require_whole_tenant(viewer.scope)
    app = app_of(request)

    def read() -> dict[str, Any]:
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, write=False) as uow:
            row = get_run(uow, run_id[:64])
            return _plain(row) | {
                "report": row.report,
                "policy_diff": row.policy_diff,
                "candidate_text": row.candidate_text,
            }

    run = await run_in_threadpool(read)
    return render(request, "backtest.html", run=run, report=run["report"])


def _plain(row: BacktestRun) -> dict[str, Any]:
    """What the pages show, read before the unit of work ends (its rollback expires rows)."""
    return {
        "id": row.id,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "window_from": row.window_from,
        "window_to": row.window_to,
        "events": row.events,
        "changed_cases": row.changed_cases,
        "status": row.status,
        "failure": row.failure,
    }
