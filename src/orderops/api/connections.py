"""Vendor connections of the caller's tenant: list, add, rotate, remove, test. Admin only.

A credential goes in (add, rotate) and never comes out: answers carry its fingerprint.
Validation errors name the field and never echo its value, since the value may be the
credential itself (``api/problems.py``). The tenant is the key's, so one tenant can
neither see nor touch another's connections: a system it has not connected answers 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.problems import problem_responses
from orderops.domain.roles import Permission
from orderops.domain.vendor_connections import (
    MAX_SECRET_LENGTH,
    MAX_URL_LENGTH,
    MAX_USERNAME_LENGTH,
    AccountMode,
    VendorSystem,
)
from orderops.tenancy.tenants import Principal
from orderops.writeback import vendor_connections

router = APIRouter(prefix="/v1/admin/connections", tags=["admin"], route_class=SafeJsonRoute)
ConnectionAdmin = Annotated[Principal, Depends(require(Permission.SOURCES_MANAGE))]


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: VendorSystem
    base_url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    secret: str = Field(min_length=1, max_length=MAX_SECRET_LENGTH, repr=False)
    mode: AccountMode | None = Field(
        default=None, description="Required except for Stripe, whose key says it."
    )
    username: str | None = Field(
        default=None, max_length=MAX_USERNAME_LENGTH, description="Zendesk's agent email."
    )
    allow_test_mode: bool = False


class ConnectionRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=1, max_length=MAX_SECRET_LENGTH, repr=False)
    mode: AccountMode | None = None
    base_url: str | None = Field(default=None, min_length=1, max_length=MAX_URL_LENGTH)


class ConnectionRead(BaseModel):
    """A connection without its credential; ``fingerprint`` changes when it is rotated."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    system: str
    base_url: str
    username: str | None
    mode: str
    allow_test_mode: bool
    fingerprint: str
    version: int
    created_at: datetime
    created_by: str
    rotated_at: datetime | None
    rotated_by: str | None


class ProbeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    system: str
    ok: bool
    status: int | None
    detail: str


@router.get("", response_model=list[ConnectionRead], summary="Vendor connections (no secrets)")
async def list_connections(request: Request, principal: ConnectionAdmin) -> list[ConnectionRead]:
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: vendor_connections.list_connections(app.sessions, tenant_id=principal.tenant_id)
    )
    return [ConnectionRead.model_validate(c) for c in found]


@router.post(
    "",
    status_code=201,
    response_model=ConnectionRead,
    summary="Connect a vendor account (credential sealed; refused across environments)",
    responses=problem_responses(409, 422),
)
async def add_connection(
    request: Request, principal: ConnectionAdmin, body: ConnectionCreate
) -> ConnectionRead:
    app = app_of(request)
    view = await run_in_threadpool(
        lambda: vendor_connections.add_connection(
            app.sessions,
            tenant_id=principal.tenant_id,
            system=body.system,
            base_url=body.base_url,
            secret=body.secret,
            mode=body.mode,
            username=body.username,
            allow_test_mode=body.allow_test_mode,
            secret_key=app.settings.secret_key,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return ConnectionRead.model_validate(view)


@router.post(
    "/{system}/rotate",
    response_model=ConnectionRead,
    summary="Replace a connection's credential; the next delivery uses it",
    responses=problem_responses(404, 422),
)
async def rotate_connection(
    request: Request, principal: ConnectionAdmin, system: VendorSystem, body: ConnectionRotate
) -> ConnectionRead:
    app = app_of(request)
    view = await run_in_threadpool(
        lambda: vendor_connections.rotate_connection(
            app.sessions,
            tenant_id=principal.tenant_id,
            system=system,
            secret=body.secret,
            mode=body.mode,
            base_url=body.base_url,
            secret_key=app.settings.secret_key,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return ConnectionRead.model_validate(view)


@router.post(
    "/{system}/remove",
    response_model=ConnectionRead,
    summary="Forget a connection; the system's messages wait until it is connected again",
    responses=problem_responses(404),
)
async def remove_connection(
    request: Request, principal: ConnectionAdmin, system: VendorSystem
) -> ConnectionRead:
    app = app_of(request)
    view = await run_in_threadpool(
        lambda: vendor_connections.remove_connection(
            app.sessions,
            tenant_id=principal.tenant_id,
            system=system,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return ConnectionRead.model_validate(view)


@router.post(
    "/{system}/test",
    response_model=ProbeRead,
    summary="One harmless authenticated read against the vendor; says what failed",
    responses=problem_responses(404),
)
async def test_connection(
    request: Request, principal: ConnectionAdmin, system: VendorSystem
) -> ProbeRead:
    app = app_of(request)
    result = await run_in_threadpool(
        lambda: vendor_connections.check_connection(
            app.sessions,
            tenant_id=principal.tenant_id,
            system=system,
            secret_key=app.settings.secret_key,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return ProbeRead.model_validate(result)
