"""Working cases over HTTP: moves, claims and assignment, priority and re-routing.

Every route that changes a case takes the version the caller saw (``If-Match`` or a
``version`` field). A stale version, or a move the case's status does not allow, is a
409 problem that carries the case as it is now, so the client can show it and let the
person decide again instead of retrying blindly."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.case_work_schemas import (
    AssignBody,
    MoveBody,
    PriorityBody,
    ReleaseBody,
    Versioned,
    WorkCaseRead,
)
from orderops.api.params import Id
from orderops.api.problems import problem
from orderops.api.work_common import (
    IfMatch,
    Worker,
    actor_of,
    conflict_status,
    member_of,
    version_from,
)
from orderops.bootstrap import App
from orderops.cases import assignment
from orderops.cases.conflicts import StaleCase, load_case
from orderops.cases.routing import route_case, set_priority
from orderops.decide.transitions import MoveRequest, apply_move
from orderops.domain.errors import IllegalTransition
from orderops.domain.roles import Permission, allows
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

router = APIRouter(tags=["case work"], route_class=SafeJsonRoute)

CaseAction = Callable[[UnitOfWork, Case], None]

# -- case moves ---------------------------------------------------------------------


@router.post("/v1/cases/{case_id}/transitions", response_model=WorkCaseRead)
async def move_case(
    request: Request, principal: Worker, case_id: Id, body: MoveBody, if_match: IfMatch = None
) -> Response:
    """Triage, snooze, escalate, resolve, reject or reopen (resolve/reject/escalate/reopen
    need a reason; snooze needs ``until`` or ``wake_on_event``)."""
    app = app_of(request)
    move = MoveRequest(
        move=body.move,
        actor=actor_of(principal),
        reason=body.reason,
        snooze_until=body.until,
        wake_on_event=body.wake_on_event,
    )
    return await _change(
        app,
        principal,
        case_id,
        version_from(if_match, body),
        lambda uow, case: apply_move(uow, case, move, now=app.clock.now()),
    )


@router.post("/v1/cases/{case_id}/claim", response_model=WorkCaseRead)
async def claim_case(
    request: Request, principal: Worker, case_id: Id, body: Versioned, if_match: IfMatch = None
) -> Response:
    app = app_of(request)
    return await _change(
        app,
        principal,
        case_id,
        version_from(if_match, body),
        lambda uow, case: assignment.claim(
            uow, case, member=member_of(principal), actor=actor_of(principal), now=app.clock.now()
        ),
    )


@router.post("/v1/cases/{case_id}/release", response_model=WorkCaseRead)
async def release_case(
    request: Request, principal: Worker, case_id: Id, body: ReleaseBody, if_match: IfMatch = None
) -> Response:
    app = app_of(request)
    force = body.force and allows(principal.role, Permission.ACTIONS_OVERRIDE)
    return await _change(
        app,
        principal,
        case_id,
        version_from(if_match, body),
        lambda uow, case: assignment.release(
            uow,
            case,
            member=member_of(principal),
            actor=actor_of(principal),
            now=app.clock.now(),
            force=force,
        ),
    )


@router.post("/v1/cases/{case_id}/assign", response_model=WorkCaseRead)
async def assign_case(
    request: Request, principal: Worker, case_id: Id, body: AssignBody, if_match: IfMatch = None
) -> Response:
    """Assign to a named person, or let the queue choose (round robin, least loaded)."""
    app = app_of(request)

    def act(uow: UnitOfWork, case: Case) -> None:
        if body.assignee is not None:
            assignment.assign(
                uow, case, assignee=body.assignee, actor=actor_of(principal), now=app.clock.now()
            )
        elif body.strategy is not None:
            assignment.assign_next(
                uow, case, strategy=body.strategy, actor=actor_of(principal), now=app.clock.now()
            )

    return await _change(app, principal, case_id, version_from(if_match, body), act)


@router.post("/v1/cases/{case_id}/priority", response_model=WorkCaseRead)
async def prioritise_case(
    request: Request, principal: Worker, case_id: Id, body: PriorityBody, if_match: IfMatch = None
) -> Response:
    app = app_of(request)
    return await _change(
        app,
        principal,
        case_id,
        version_from(if_match, body),
        lambda uow, case: set_priority(
            uow, case, priority=body.priority, actor=actor_of(principal), now=app.clock.now()
        ),
    )


@router.post("/v1/cases/{case_id}/route", response_model=WorkCaseRead)
async def reroute_case(
    request: Request, principal: Worker, case_id: Id, body: Versioned, if_match: IfMatch = None
) -> Response:
    """Re-evaluate the routing rules against the order's current facts."""
    app = app_of(request)
    return await _change(
        app,
        principal,
        case_id,
        version_from(if_match, body),
        lambda uow, case: _ignore(
            route_case(uow, case, now=app.clock.now(), actor=actor_of(principal))
        ),
    )


async def _change(
    app: App, principal: Principal, case_id: str, version: int, action: CaseAction
) -> Response:
    try:
        case = await run_in_threadpool(_apply, app, principal, case_id, version, action)
    except IllegalTransition as exc:  # stale versions and illegal moves alike: show the case
        current = await run_in_threadpool(_current, app, principal, case_id)
        return problem(
            conflict_status(exc), exc.code, type(exc).__name__, exc.message, case=current
        )
    return JSONResponse(case.model_dump(mode="json"), headers={"ETag": f'"{case.version}"'})


def _apply(
    app: App, principal: Principal, case_id: str, version: int, action: CaseAction
) -> WorkCaseRead:
    """In the caller's scope: a case outside it is not found, as another tenant's is."""
    try:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            case = load_case(uow, case_id, expected_version=version)
            action(uow, case)
            uow.commit()
            return WorkCaseRead.model_validate(case, from_attributes=True)
    except StaleDataError as exc:  # a concurrent writer committed between our read and write
        raise StaleCase(
            f"case {case_id} changed while your change was applied", case_id=case_id
        ) from exc


def _current(app: App, principal: Principal, case_id: str) -> dict[str, Any] | None:
    with UnitOfWork(
        app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
    ) as uow:
        case = uow.cases.get(case_id)
        return (
            WorkCaseRead.model_validate(case, from_attributes=True).model_dump(mode="json")
            if case
            else None
        )


def _ignore(_value: object) -> None:
    return None
