"""Moving cases to the tenant's current playbook over HTTP: one case, or every open case
(``?dry_run=true`` lists the moves and writes nothing).

Gated like the approval-policy re-evaluation and the playbook itself: only a role that
manages policies may move a case's advice onto new rules. Thin: each route calls one
service of ``recommend.playbook_reevaluation``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.params import Id
from orderops.api.problems import problem_responses
from orderops.api.work_common import Manager, actor_of
from orderops.recommend.playbook_reevaluation import (
    PlaybookMove,
    reevaluate_case,
    reevaluate_open_cases,
)
from orderops.storage.uow import UnitOfWork

router = APIRouter(tags=["recommendations"], route_class=SafeJsonRoute)
DryRun = Annotated[
    bool, Query(description="List what would move and change nothing (no audit record).")
]


class PlaybookMoveRead(BaseModel):
    case_id: str
    from_version: int | None
    """None: the case was never recommended, so it has no pin to move."""
    to_version: int
    changed: bool


class PlaybookReevaluationRead(BaseModel):
    dry_run: bool
    cases: list[PlaybookMoveRead]


def _read(move: PlaybookMove) -> PlaybookMoveRead:
    return PlaybookMoveRead(
        case_id=move.case_id,
        from_version=move.from_version,
        to_version=move.to_version,
        changed=move.changes,
    )


@router.post(
    "/v1/cases/{case_id}/playbook/reevaluate",
    response_model=PlaybookReevaluationRead,
    responses=problem_responses(404, 409),
    summary="Move one open case to the current playbook version (audited), or preview it",
)
async def reevaluate_one(
    request: Request, principal: Manager, case_id: Id, dry_run: DryRun = False
) -> PlaybookReevaluationRead:
    app = app_of(request)

    def write() -> PlaybookReevaluationRead:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=not dry_run, scope=principal.scope
        ) as uow:
            move = reevaluate_case(
                uow, case_id, actor=actor_of(principal), now=app.clock.now(), dry_run=dry_run
            )
            if not dry_run:
                uow.commit()
        return PlaybookReevaluationRead(dry_run=dry_run, cases=[_read(move)])

    return await run_in_threadpool(write)


@router.post(
    "/v1/playbook/reevaluate",
    response_model=PlaybookReevaluationRead,
    summary="Move every open case pinned to an older playbook version to the current one",
)
async def reevaluate_all(
    request: Request, principal: Manager, dry_run: DryRun = False
) -> PlaybookReevaluationRead:
    app = app_of(request)
    moves = await run_in_threadpool(
        lambda: reevaluate_open_cases(
            app.sessions,
            tenant_id=principal.tenant_id,
            actor=actor_of(principal),
            clock=app.clock,
            dry_run=dry_run,
            scope=principal.scope,
        )
    )
    return PlaybookReevaluationRead(dry_run=dry_run, cases=[_read(m) for m in moves])
