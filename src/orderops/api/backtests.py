"""Backtest reports over HTTP: the stored runs of ``orderops backtest`` and their reports.

Administrators only (``policies:manage``, as for shadow mode: a report names orders across
the tenant and carries the candidate policy), and only those who see the whole tenant: to a
caller limited by an access scope the list is empty and every run is not found (404), as
another tenant's run is. Running a backtest is the CLI's (it replays for minutes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.problems import problem_responses
from orderops.api.work_common import Manager
from orderops.storage.tables import BacktestRun
from orderops.storage.uow import UnitOfWork
from orderops.workflow.backtest import get_run, list_runs, require_whole_tenant

router = APIRouter(prefix="/v1/backtests", tags=["backtests"], route_class=SafeJsonRoute)
RunId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


class BacktestSummary(BaseModel):
    id: str
    created_by: str
    created_at: datetime
    window_from: datetime
    window_to: datetime
    events: int
    changed_cases: int


class BacktestList(BaseModel):
    items: list[BacktestSummary]


class BacktestRead(BacktestSummary):
    candidate_text: str
    policy_diff: list[dict[str, Any]]
    report: dict[str, Any]


def _summary(row: BacktestRun) -> BacktestSummary:
    return BacktestSummary(
        id=row.id,
        created_by=row.created_by,
        created_at=row.created_at,
        window_from=row.window_from,
        window_to=row.window_to,
        events=row.events,
        changed_cases=row.changed_cases,
    )


@router.get("", response_model=BacktestList, responses=problem_responses(401, 403, 404, 422))
async def list_backtests(
    request: Request,
    principal: Manager,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> BacktestList:
    """The tenant's backtest runs, newest first (none, to a caller limited by a scope)."""
    if not principal.scope.unrestricted:
        return BacktestList(items=[])

    def read() -> BacktestList:
        with UnitOfWork(
            app_of(request).sessions, tenant_id=principal.tenant_id, write=False
        ) as uow:
            return BacktestList(items=[_summary(r) for r in list_runs(uow, limit=limit)])

    return await run_in_threadpool(read)


@router.get("/{run_id}", response_model=BacktestRead, responses=problem_responses(401, 403, 404))
async def read_backtest(request: Request, principal: Manager, run_id: RunId) -> BacktestRead:
    """One run: its report, the candidate file and its diff from the live policy."""
    require_whole_tenant(principal.scope)

    def read() -> BacktestRead:
        with UnitOfWork(
            app_of(request).sessions, tenant_id=principal.tenant_id, write=False
        ) as uow:
            row = get_run(uow, run_id)
            return BacktestRead(
                **_summary(row).model_dump(),
                candidate_text=row.candidate_text,
                policy_diff=row.policy_diff,
                report=row.report,
            )

    return await run_in_threadpool(read)
