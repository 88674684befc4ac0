"""Backtests over HTTP: request one (queued for a worker), read the runs and their reports.

Administrators only (``policies:manage``, as for shadow mode: a report names orders across
the tenant and carries the candidate policy), and only those who see the whole tenant: to a
caller limited by an access scope the list is empty and every run is not found (404), as
another tenant's run is, and a request is refused the same way.

``POST /v1/backtests`` never replays in the request (a replay takes seconds to minutes):
it validates the window and the candidate, stores the run ``queued`` and answers 202 with
the run's URL in ``Location``; a worker runs it (``workflow/backtest_requests.py``) and
the run's ``status`` goes ``running``, then ``done`` with its report or ``failed`` with
its ``failure``. The body: ``from`` and ``to`` (ISO 8601 with a time zone; ``to``
exclusive, after ``from``, at most 92 days later, not in the future), ``candidate``,
the candidate file's sections as a JSON object (``fulfillment_policy``,
``routing_rules``, ``approval_policy``, ``playbook``; ``{}`` replays the live policy
twice) and, optionally, the pace as the CLI takes it: ``sweep_minutes`` (5-1,440, default
60, a whole number of ticks) and ``tick_minutes`` (1-1,440, default 5). A bad window is
422 ``invalid-window``, a candidate that could not be put in force 422 ``invalid-policy``
naming each problem, a malformed body (a pace out of bounds included) 422
``invalid-request``, and a body over ``MAX_BODY_BYTES`` 413 ``payload-too-large`` before
it is parsed.
``Idempotency-Key`` is honoured as on every POST (``api/idempotency.py``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.problems import problem_responses
from orderops.api.work_common import Manager
from orderops.storage.tables import BacktestRun
from orderops.storage.uow import UnitOfWork
from orderops.workflow.backtest import get_run, list_runs, require_whole_tenant
from orderops.workflow.backtest_replay import Pace
from orderops.workflow.backtest_requests import (
    DEFAULT_SWEEP_MINUTES,
    DEFAULT_TICK_MINUTES,
    SWEEP_MINUTES,
    TICK_MINUTES,
    RunStatus,
    request_run,
)
from orderops.workflow.candidate_policy import MAX_CANDIDATE_BYTES, SECTIONS

MAX_BODY_BYTES = MAX_CANDIDATE_BYTES + 4096
"""The candidate's limit (the CLI's file limit, 1 MiB) and room for the window."""


class BoundedJsonRoute(SafeJsonRoute):
    max_body_bytes = MAX_BODY_BYTES


router = APIRouter(prefix="/v1/backtests", tags=["backtests"], route_class=BoundedJsonRoute)
RunId = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]


class BacktestSummary(BaseModel):
    id: str
    status: RunStatus
    created_by: str
    created_at: datetime
    window_from: datetime
    window_to: datetime
    events: int | None
    """None until the run is done."""
    changed_cases: int | None
    started_at: datetime | None
    finished_at: datetime | None
    failure: str | None
    """Why a failed run failed."""
    sweep_minutes: int
    tick_minutes: int


class BacktestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    window_from: AwareDatetime = Field(alias="from", description="Window start (inclusive).")
    window_to: AwareDatetime = Field(alias="to", description="Window end (exclusive).")
    candidate: dict[str, Any] = Field(
        description="The candidate file's sections as JSON: any of "
        + ", ".join(SECTIONS)
        + "; a section left out is the live one.",
    )
    sweep_minutes: int = Field(
        DEFAULT_SWEEP_MINUTES,
        ge=SWEEP_MINUTES[0],
        le=SWEEP_MINUTES[1],
        description="Minutes between the replay's sweeps (as the CLI's).",
    )
    tick_minutes: int = Field(
        DEFAULT_TICK_MINUTES,
        ge=TICK_MINUTES[0],
        le=TICK_MINUTES[1],
        description="Minutes of received events fed together.",
    )

    @model_validator(mode="after")
    def _a_pace(self) -> BacktestRequest:
        self.pace()  # Pace's own rule (a whole number of ticks): a ValueError is a 422
        return self

    def pace(self) -> Pace:
        return Pace(
            sweep_every=timedelta(minutes=self.sweep_minutes),
            tick=timedelta(minutes=self.tick_minutes),
        )


class BacktestList(BaseModel):
    items: list[BacktestSummary]


class BacktestRead(BacktestSummary):
    candidate_text: str
    policy_diff: list[dict[str, Any]]
    report: dict[str, Any]


def _summary(row: BacktestRun) -> BacktestSummary:
    done = row.status == RunStatus.DONE
    return BacktestSummary(
        id=row.id,
        status=RunStatus(row.status),
        created_by=row.created_by,
        created_at=row.created_at,
        window_from=row.window_from,
        window_to=row.window_to,
        events=row.events if done else None,
        changed_cases=row.changed_cases if done else None,
        started_at=row.started_at,
        finished_at=row.finished_at,
        failure=row.failure,
        sweep_minutes=row.sweep_minutes,
        tick_minutes=row.tick_minutes,
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


@router.post(
    "",
    response_model=BacktestSummary,
    status_code=202,
    responses={
        202: {"description": "Queued: the run's URL is in Location; poll it for its status"},
        **problem_responses(400, 401, 403, 404, 413, 422),
    },
)
async def request_backtest(
    request: Request, response: Response, principal: Manager, body: BacktestRequest
) -> BacktestSummary:
    """Queue a backtest of the candidate over the window; a worker runs it."""
    require_whole_tenant(principal.scope)
    app = app_of(request)

    def queue() -> BacktestSummary:
        run_id = request_run(
            app.sessions,
            tenant_id=principal.tenant_id,
            start=body.window_from,
            end=body.window_to,
            candidate_text=json.dumps(body.candidate),
            actor=principal.identity,
            clock=app.clock,
            pace=body.pace(),
        )
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, write=False) as uow:
            return _summary(get_run(uow, run_id))

    queued = await run_in_threadpool(queue)
    response.headers["Location"] = f"/v1/backtests/{queued.id}"
    return queued
