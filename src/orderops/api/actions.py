"""Actions on cases: the catalogue, proposals, approvals, rejections, bulk approval.

Thin shells over ``decide.actions`` and ``decide.approvals``; each route declares its
permission, and an id from another tenant answers 404 like an unknown one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.params import Id
from orderops.api.problems import problem_responses
from orderops.decide import actions as action_service
from orderops.decide import approvals as approval_service
from orderops.decide.actions import ActionView
from orderops.domain.actions import ActionKind, ActionStatus, catalogue
from orderops.domain.roles import Permission
from orderops.evidence.service import default_store
from orderops.tenancy.tenants import Principal

router = APIRouter(prefix="/v1", tags=["actions"], route_class=SafeJsonRoute)
Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]
Proposer = Annotated[Principal, Depends(require(Permission.ACTIONS_PROPOSE))]
Approver = Annotated[Principal, Depends(require(Permission.ACTIONS_APPROVE))]


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    approver: str
    role: str | None
    decision: str
    reason: str | None
    at: datetime
    bulk_id: str | None


class ActionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    kind: str
    params: dict[str, Any]
    status: str
    proposed_by: str
    created_at: datetime
    policy_version: int
    evaluation: dict[str, Any] | None
    auto_rule: str | None
    expires_at: datetime | None
    decided_at: datetime | None
    decisions: list[DecisionRead]


class ActionKindRead(BaseModel):
    kind: str
    title: str
    overrides_policy: bool
    params_schema: dict[str, Any]


class ProposeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ActionKind
    params: dict[str, Any] = Field(default_factory=dict)
    note: str | None = Field(default=None, max_length=1000)


class ApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class RejectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=1000)


class BulkApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action_ids: list[str] = Field(min_length=1, max_length=approval_service.MAX_BULK)
    reason: str | None = Field(default=None, max_length=1000)


def _read(action: ActionView) -> ActionRead:
    return ActionRead.model_validate(action)


@router.get("/action-kinds", response_model=list[ActionKindRead], summary="The action catalogue")
async def list_kinds(_principal: Reader) -> list[ActionKindRead]:
    return [
        ActionKindRead(
            kind=spec.kind,
            title=spec.title,
            overrides_policy=spec.overrides_policy,
            params_schema=spec.params.model_json_schema(),
        )
        for spec in catalogue().values()
    ]


@router.post(
    "/cases/{case_id}/actions",
    status_code=201,
    response_model=ActionRead,
    summary="Propose an action; it waits for approval or a named rule approves it",
)
async def propose(
    request: Request, principal: Proposer, case_id: Id, body: ProposeRequest
) -> ActionRead:
    app = app_of(request)
    action = await run_in_threadpool(
        lambda: action_service.propose(
            app.sessions,
            tenant_id=principal.tenant_id,
            case_id=case_id,
            kind=body.kind,
            params=body.params,
            principal=principal,
            clock=app.clock,
            evidence=default_store(app.settings),
            note=body.note,
        )
    )
    return _read(action)


@router.get("/cases/{case_id}/actions", response_model=list[ActionRead], summary="A case's actions")
async def case_actions(request: Request, principal: Reader, case_id: Id) -> list[ActionRead]:
    app = app_of(request)
    views = await run_in_threadpool(
        lambda: action_service.list_for_case(
            app.sessions, tenant_id=principal.tenant_id, case_id=case_id, scope=principal.scope
        )
    )
    return [_read(v) for v in views]


@router.get("/actions", response_model=list[ActionRead], summary="Actions, oldest first")
async def list_actions(
    request: Request,
    principal: Reader,
    status: ActionStatus | None = None,
    kind: ActionKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ActionRead]:
    app = app_of(request)
    views = await run_in_threadpool(
        lambda: action_service.list_actions(
            app.sessions,
            tenant_id=principal.tenant_id,
            status=status,
            kind=kind,
            limit=limit,
            scope=principal.scope,
        )
    )
    return [_read(v) for v in views]


@router.post(
    "/actions/bulk-approve",
    response_model=list[ActionRead],
    responses=problem_responses(404),
    summary="Approve many actions of one kind: all or nothing",
)
async def bulk_approve(
    request: Request, principal: Approver, body: BulkApproveRequest
) -> list[ActionRead]:
    app = app_of(request)
    views = await run_in_threadpool(
        lambda: approval_service.approve_many(
            app.sessions,
            tenant_id=principal.tenant_id,
            action_ids=body.action_ids,
            principal=principal,
            clock=app.clock,
            evidence=default_store(app.settings),
            reason=body.reason,
        )
    )
    return [_read(v) for v in views]


@router.get("/actions/{action_id}", response_model=ActionRead, summary="One action")
async def get_action(request: Request, principal: Reader, action_id: Id) -> ActionRead:
    app = app_of(request)
    action = await run_in_threadpool(
        lambda: action_service.read_action(
            app.sessions, tenant_id=principal.tenant_id, action_id=action_id, scope=principal.scope
        )
    )
    return _read(action)


@router.post("/actions/{action_id}/approve", response_model=ActionRead, summary="Approve")
async def approve(
    request: Request, principal: Approver, action_id: Id, body: ApproveRequest | None = None
) -> ActionRead:
    app = app_of(request)
    action = await run_in_threadpool(
        lambda: approval_service.approve(
            app.sessions,
            tenant_id=principal.tenant_id,
            action_id=action_id,
            principal=principal,
            clock=app.clock,
            evidence=default_store(app.settings),
            reason=body.reason if body else None,
        )
    )
    return _read(action)


@router.post("/actions/{action_id}/reject", response_model=ActionRead, summary="Reject")
async def reject(
    request: Request, principal: Approver, action_id: Id, body: RejectRequest
) -> ActionRead:
    app = app_of(request)
    action = await run_in_threadpool(
        lambda: approval_service.reject(
            app.sessions,
            tenant_id=principal.tenant_id,
            action_id=action_id,
            principal=principal,
            clock=app.clock,
            evidence=default_store(app.settings),
            reason=body.reason,
        )
    )
    return _read(action)
