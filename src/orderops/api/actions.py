"""Actions on cases: the catalogue, proposals, approvals, rejections, bulk approval.

Thin shells over ``decide.actions`` and ``decide.approvals``; each route declares its
permission, and an id from another tenant answers 404 like an unknown one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.cursors import LINK_HEADER, Listing
from orderops.api.etags import IfMatchTag, check_if_match, state_tag
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
LISTING = Listing("actions")
ETAG_HEADER: dict[str, Any] = {
    "description": "The action's state (strong): send it as If-Match to approve or reject",
    "schema": {"type": "string"},
}


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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "refund",
                    "params": {"amount_minor": 599, "reason": "shipping refund for a late parcel"},
                    "note": "customer asked twice",
                }
            ]
        },
    )

    kind: ActionKind
    params: dict[str, Any] = Field(default_factory=dict)
    note: str | None = Field(default=None, max_length=1000)


class ApproveRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "within the goodwill budget"}]}
    )

    reason: str | None = Field(default=None, max_length=1000)


class RejectRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "the parcel was delivered"}]}
    )

    reason: str = Field(min_length=3, max_length=1000)


class BulkApproveRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "action_ids": [
                        "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
                        "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d",
                    ],
                    "reason": "carrier storm: shipping refunds for every late parcel",
                }
            ]
        },
    )

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


@router.get(
    "/actions",
    response_model=list[ActionRead],
    summary="Actions, oldest first; the next page is in the Link header",
    responses={200: {"headers": {"Link": LINK_HEADER}}, **problem_responses(400)},
)
async def list_actions(
    request: Request,
    response: Response,
    principal: Reader,
    status: ActionStatus | None = None,
    kind: ActionKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[
        str | None, Query(description='The `cursor` of the previous page\'s `Link: rel="next"`')
    ] = None,
) -> list[ActionRead]:
    """The answer stays a plain list; a page that has a next one says so in its
    ``Link: <...>; rel="next"`` header, whose URL carries the signed ``cursor``."""
    app = app_of(request)
    after = LISTING.start_after(request, principal.tenant_id, cursor)
    views = await run_in_threadpool(
        lambda: action_service.list_actions(
            app.sessions,
            tenant_id=principal.tenant_id,
            status=status,
            kind=kind,
            limit=limit + 1,
            scope=principal.scope,
            after=after,
        )
    )
    items = [_read(v) for v in views[:limit]]
    last = ((items[-1].created_at,), items[-1].id) if len(views) > limit else None
    LISTING.next_cursor(request, response, principal.tenant_id, last)
    return items


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


@router.get(
    "/actions/{action_id}",
    response_model=ActionRead,
    summary="One action, with its state as a strong ETag",
    responses={200: {"headers": {"ETag": ETAG_HEADER}}},
)
async def get_action(
    request: Request, response: Response, principal: Reader, action_id: Id
) -> ActionRead:
    read = await _current(request, principal, action_id)
    response.headers["ETag"] = state_tag(read)
    return read


async def _current(request: Request, principal: Principal, action_id: str) -> ActionRead:
    app = app_of(request)
    action = await run_in_threadpool(
        lambda: action_service.read_action(
            app.sessions, tenant_id=principal.tenant_id, action_id=action_id, scope=principal.scope
        )
    )
    return _read(action)


async def _unless_stale(
    request: Request, principal: Principal, action_id: str, if_match: str | None
) -> None:
    """412 when ``If-Match`` names a state the action has left (api/etags.py)."""
    if if_match is not None:
        check_if_match(if_match, state_tag(await _current(request, principal, action_id)))


def _tagged(response: Response, read: ActionRead) -> ActionRead:
    response.headers["ETag"] = state_tag(read)
    return read


@router.post(
    "/actions/{action_id}/approve",
    response_model=ActionRead,
    summary="Approve",
    responses={200: {"headers": {"ETag": ETAG_HEADER}}, **problem_responses(412)},
)
async def approve(
    request: Request,
    response: Response,
    principal: Approver,
    action_id: Id,
    body: ApproveRequest | None = None,
    if_match: IfMatchTag = None,
) -> ActionRead:
    app = app_of(request)
    await _unless_stale(request, principal, action_id, if_match)
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
    return _tagged(response, _read(action))


@router.post(
    "/actions/{action_id}/reject",
    response_model=ActionRead,
    summary="Reject",
    responses={200: {"headers": {"ETag": ETAG_HEADER}}, **problem_responses(412)},
)
async def reject(
    request: Request,
    response: Response,
    principal: Approver,
    action_id: Id,
    body: RejectRequest,
    if_match: IfMatchTag = None,
) -> ActionRead:
    app = app_of(request)
    await _unless_stale(request, principal, action_id, if_match)
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
    return _tagged(response, _read(action))
