"""Administration: users and service identities, their API keys, the approval policy.

Secrets appear once, in the response that issues them. Policy changes answer with the
diff they made, which is also what the audit record holds. Each user's provenance (who
created, re-roled, reset or keyed it, and when) is listed, since it decides whose actions
that user may approve.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.idempotency import shows_secret
from orderops.api.params import MAX_INT32
from orderops.api.problems import problem_responses
from orderops.decide import policy_versions, reevaluation
from orderops.domain.durations import parse_duration
from orderops.domain.roles import Permission, Role
from orderops.evidence.service import default_store
from orderops.tenancy import identity_acts, key_lifecycle, users
from orderops.tenancy.tenants import IssuedKey, Principal
from orderops.tenancy.users import UserKind

router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=SafeJsonRoute)
UserAdmin = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]
PolicyAdmin = Annotated[Principal, Depends(require(Permission.POLICIES_MANAGE))]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=200)
    role: Role
    email: str | None = Field(default=None, max_length=320)
    kind: UserKind = UserKind.HUMAN


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    email: str | None
    display_name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


class IdentityActRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    act: str
    actor: str
    """A stable id: ``user:<id>``, ``key:<id>``, ``cli`` or ``system``."""
    at: datetime
    user_id: str | None
    key_id: str | None


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    expires_in: str | None = Field(
        default=None, max_length=32, description="Lifetime, e.g. 90d or 12h; default: none."
    )
    expires_at: datetime | None = Field(default=None, description="Or an expiry time.")


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap: str = Field(
        default="24h", max_length=32, description="How long the old key keeps working."
    )
    expires_in: str | None = Field(
        default=None,
        max_length=32,
        description="The successor's lifetime; default: as long as the old key's.",
    )
    expires_at: datetime | None = None


class IssuedKeyRead(BaseModel):
    key_id: str
    secret: str
    """Shown once; only its hash is stored."""
    prefix: str = ""
    """``oo_<environment>_<short id>``: how listings and refusals name the key."""
    expires_at: datetime | None = None


class KeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str
    role: str
    user_id: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    environment: str = "live"
    state: str = Field(
        default="active", description="active, rotating, expired, retired or revoked."
    )
    expires_at: datetime | None = None
    rotated_at: datetime | None = None
    successor_id: str | None = None


class RotationRead(BaseModel):
    successor: IssuedKeyRead
    rotated: KeyRead
    """The old key: it works until ``rotated.expires_at``."""


class PolicyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    body: dict[str, Any]
    created_by: str
    created_at: datetime | None
    note: str | None


class PolicyWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: dict[str, Any]
    note: str | None = Field(default=None, max_length=1000)


class PolicyChangeRead(BaseModel):
    version: int
    previous_version: int
    changed: bool
    changes: list[dict[str, Any]]


class ReevaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_version: int | None = Field(default=None, ge=0)
    case_ids: list[str] | None = Field(default=None, max_length=1000)


class CaseReevaluationRead(BaseModel):
    case_id: str
    from_version: int
    to_version: int
    actions: list[dict[str, Any]]


@router.get("/users", response_model=list[UserRead], summary="Users and service identities")
async def list_users(request: Request, principal: UserAdmin) -> list[UserRead]:
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: users.list_users(app.sessions, tenant_id=principal.tenant_id)
    )
    return [UserRead.model_validate(u) for u in found]


@router.post("/users", status_code=201, response_model=UserRead, summary="Add a user")
async def add_user(request: Request, principal: UserAdmin, body: UserCreate) -> UserRead:
    app = app_of(request)
    user = await run_in_threadpool(
        lambda: users.add_user(
            app.sessions,
            tenant_id=principal.tenant_id,
            display_name=body.display_name,
            role=body.role,
            email=body.email,
            kind=body.kind,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return UserRead.model_validate(user)


@router.post("/users/{user_id}/disable", response_model=UserRead, summary="Disable a user")
async def disable_user(request: Request, principal: UserAdmin, user_id: str) -> UserRead:
    app = app_of(request)
    user = await run_in_threadpool(
        lambda: users.disable_user(
            app.sessions,
            tenant_id=principal.tenant_id,
            user_id=user_id,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return UserRead.model_validate(user)


@router.post(
    "/users/{user_id}/role",
    response_model=UserRead,
    summary="Change a user's role (audited; its keys act with the new role at once)",
)
async def change_role(
    request: Request, principal: UserAdmin, user_id: str, body: RoleChange
) -> UserRead:
    app = app_of(request)
    user = await run_in_threadpool(
        lambda: users.change_role(
            app.sessions,
            tenant_id=principal.tenant_id,
            user_id=user_id,
            role=body.role,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    return UserRead.model_validate(user)


@router.get(
    "/users/{user_id}/provenance",
    response_model=list[IdentityActRead],
    summary="Who created, re-roled, reset or keyed the user, and when",
)
async def user_provenance(
    request: Request, principal: UserAdmin, user_id: str
) -> list[IdentityActRead]:
    app = app_of(request)
    acts = await run_in_threadpool(
        lambda: identity_acts.list_acts(
            app.sessions, tenant_id=principal.tenant_id, user_id=user_id
        )
    )
    return [IdentityActRead.model_validate(a) for a in acts]


@router.post(
    "/users/{user_id}/keys",
    dependencies=[Depends(shows_secret)],
    status_code=201,
    response_model=IssuedKeyRead,
    summary="Issue an API key acting as the user (secret shown once)",
)
async def issue_key(
    request: Request, principal: UserAdmin, user_id: str, body: KeyCreate
) -> IssuedKeyRead:
    app = app_of(request)
    expires_at = key_lifecycle.requested_expiry(
        app.clock, expires_in=body.expires_in, expires_at=body.expires_at
    )
    issued = await run_in_threadpool(
        lambda: users.issue_user_key(
            app.sessions,
            tenant_id=principal.tenant_id,
            user_id=user_id,
            name=body.name,
            clock=app.clock,
            actor=principal.identity,
            expires_at=expires_at,
            granted_by=principal.scope,
        )
    )
    return _issued(issued)


@router.get("/keys", response_model=list[KeyRead], summary="API keys (never their secrets)")
async def list_keys(request: Request, principal: UserAdmin) -> list[KeyRead]:
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: key_lifecycle.list_keys(
            app.sessions, tenant_id=principal.tenant_id, clock=app.clock
        )
    )
    return [KeyRead.model_validate(k) for k in found]


@router.post(
    "/keys/{key_id}/rotate",
    dependencies=[Depends(shows_secret)],
    response_model=RotationRead,
    summary="Rotate a key: its successor's secret is shown once; it works until the overlap ends",
)
async def rotate_key(
    request: Request, principal: UserAdmin, key_id: str, body: KeyRotate
) -> RotationRead:
    app = app_of(request)
    overlap = parse_duration(body.overlap)
    expires_at = (
        key_lifecycle.requested_expiry(
            app.clock, expires_in=body.expires_in, expires_at=body.expires_at
        )
        if body.expires_in is not None or body.expires_at is not None
        else None
    )
    rotation = await run_in_threadpool(
        lambda: key_lifecycle.rotate_key(
            app.sessions,
            tenant_id=principal.tenant_id,
            key_id=key_id,
            clock=app.clock,
            actor=principal.identity,
            overlap=overlap,
            expires_at=expires_at,
            granted_by=principal.scope,
        )
    )
    return RotationRead(
        successor=_issued(rotation.successor), rotated=KeyRead.model_validate(rotation.rotated)
    )


@router.post("/keys/{key_id}/revoke", response_model=KeyRead, summary="Revoke an API key")
async def revoke_key(request: Request, principal: UserAdmin, key_id: str) -> KeyRead:
    app = app_of(request)
    key = await run_in_threadpool(
        lambda: users.revoke_key(
            app.sessions,
            tenant_id=principal.tenant_id,
            key_id=key_id,
            clock=app.clock,
            actor=principal.identity,
        )
    )
    details = await run_in_threadpool(
        lambda: key_lifecycle.key_details(
            app.sessions, tenant_id=principal.tenant_id, key_id=key.id, clock=app.clock
        )
    )
    return KeyRead.model_validate(details)


def _issued(issued: IssuedKey) -> IssuedKeyRead:
    return IssuedKeyRead(
        key_id=issued.key_id,
        secret=issued.secret,
        prefix=issued.prefix,
        expires_at=issued.expires_at,
    )


@router.get(
    "/approval-policy",
    response_model=PolicyRead,
    responses=problem_responses(404),
    summary="The current approval policy",
)
async def show_policy(
    request: Request,
    principal: PolicyAdmin,
    version: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
) -> PolicyRead:
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: policy_versions.read_version(
            app.sessions, tenant_id=principal.tenant_id, version=version
        )
    )
    return PolicyRead.model_validate(found)


@router.get(
    "/approval-policy/versions", response_model=list[PolicyRead], summary="Every policy version"
)
async def policy_history(request: Request, principal: PolicyAdmin) -> list[PolicyRead]:
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: policy_versions.list_versions(app.sessions, tenant_id=principal.tenant_id)
    )
    return [PolicyRead.model_validate(v) for v in found]


@router.put(
    "/approval-policy",
    response_model=PolicyChangeRead,
    summary="Store a new policy version (audited with its diff); open cases keep their pin",
)
async def set_policy(
    request: Request, principal: PolicyAdmin, body: PolicyWrite
) -> PolicyChangeRead:
    app = app_of(request)
    update = await run_in_threadpool(
        lambda: policy_versions.set_policy(
            app.sessions,
            tenant_id=principal.tenant_id,
            body=body.policy,
            actor=principal.identity,
            clock=app.clock,
            note=body.note,
        )
    )
    return PolicyChangeRead(
        version=update.version,
        previous_version=update.previous_version,
        changed=update.changed,
        changes=[c.as_json() for c in update.changes],
    )


@router.post(
    "/approval-policy/reevaluate",
    response_model=list[CaseReevaluationRead],
    responses=problem_responses(404),
    summary="Re-decide open cases under a newer policy version, recording what changed",
)
async def reevaluate(
    request: Request, principal: PolicyAdmin, body: ReevaluateRequest
) -> list[CaseReevaluationRead]:
    app = app_of(request)
    done = await run_in_threadpool(
        lambda: reevaluation.reevaluate_open_cases(
            app.sessions,
            tenant_id=principal.tenant_id,
            actor=principal.identity,
            clock=app.clock,
            evidence=default_store(app.settings),
            to_version=body.to_version,
            case_ids=body.case_ids,
        )
    )
    return [
        CaseReevaluationRead(
            case_id=r.case_id,
            from_version=r.from_version,
            to_version=r.to_version,
            actions=list(r.actions),
        )
        for r in done
    ]
