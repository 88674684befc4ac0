"""Scopes below the tenant over HTTP: limiting users, keys and queues, and naming brands.

A scope is ``{"region": ["DE", "AT"], "brand": ["acme"]}``: per dimension (brand, store,
channel, region) the values that may be seen; a dimension left out is unrestricted, and
``{}`` lifts every limit. A scoped administrator may hand out only scopes within their
own; brand rules, which decide where orders sit, are for unscoped managers only. Every
change is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.params import NO_NUL, Id, Name
from orderops.api.problems import problem_responses
from orderops.domain.errors import Forbidden, NotFound
from orderops.domain.roles import Permission
from orderops.domain.scopes import VALUE_MAX, from_request
from orderops.storage.repositories.queues import queues_of
from orderops.storage.uow import UnitOfWork
from orderops.tenancy import access_scopes
from orderops.tenancy.access_scopes import ScopeChange
from orderops.tenancy.tenants import Principal

router = APIRouter(tags=["scopes"], route_class=SafeJsonRoute)
UserAdmin = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]
Manager = Annotated[Principal, Depends(require(Permission.POLICIES_MANAGE))]
Value = Annotated[str, Field(min_length=1, max_length=VALUE_MAX, pattern=NO_NUL)]
RuleKind = Literal["store", "tag"]


class ScopeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: dict[str, Annotated[list[Value], Field(min_length=1, max_length=100)]] = Field(
        max_length=4
    )
    """Per dimension, the values that may be seen; ``{}``: the whole tenant."""


class ScopeRead(BaseModel):
    entity_type: str
    entity_id: str
    scope: dict[str, list[str]]
    previous: dict[str, list[str]]


class ScopesRead(BaseModel):
    users: dict[str, dict[str, list[str]]]
    keys: dict[str, dict[str, list[str]]]
    queues: dict[str, dict[str, list[str]]]


class BrandRuleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RuleKind
    value: Value
    """The store (shop domain, or the source name) or the order tag."""
    brand: Value


class BrandRuleRead(BaseModel):
    kind: str
    value: str
    brand: str
    set_by: str
    set_at: datetime


class BrandChangeRead(BaseModel):
    orders_moved: int
    """Orders of the store that took the new brand at once (a tag rule: from their next
    update)."""


def _read(change: ScopeChange) -> ScopeRead:
    return ScopeRead(
        entity_type=change.entity_type,
        entity_id=change.entity_id,
        scope=change.after.to_json(),
        previous=change.before.to_json(),
    )


def _unscoped(principal: Principal) -> None:
    if not principal.scope.unrestricted:
        raise Forbidden("brand rules decide where every order sits: an unscoped manager's job")


@router.get("/v1/admin/scopes", response_model=ScopesRead, summary="Every limited user, key, queue")
async def list_scopes(request: Request, principal: UserAdmin) -> ScopesRead:
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: access_scopes.stored_scopes(app.sessions, tenant_id=principal.tenant_id)
    )
    return ScopesRead(
        users={k: s.to_json() for k, s in found.users.items()},
        keys={k: s.to_json() for k, s in found.keys.items()},
        queues={k: s.to_json() for k, s in found.queues.items()},
    )


@router.put(
    "/v1/admin/users/{user_id}/scope",
    response_model=ScopeRead,
    summary="Limit a user (and every key acting as them) to brands, stores, channels, regions",
    responses=problem_responses(403, 404, 422),
)
async def set_user_scope(
    request: Request, principal: UserAdmin, user_id: Id, body: ScopeBody
) -> ScopeRead:
    return await _limit(
        request, principal, body, partial(access_scopes.set_user_scope, user_id=user_id)
    )


@router.put(
    "/v1/admin/keys/{key_id}/scope",
    response_model=ScopeRead,
    summary="Narrow one API key below its user's scope",
    responses=problem_responses(403, 404, 422),
)
async def set_key_scope(
    request: Request, principal: UserAdmin, key_id: Id, body: ScopeBody
) -> ScopeRead:
    return await _limit(
        request, principal, body, partial(access_scopes.set_key_scope, key_id=key_id)
    )


async def _limit(
    request: Request,
    principal: Principal,
    body: ScopeBody,
    set_scope: Callable[..., ScopeChange],
) -> ScopeRead:
    """Set a user's or a key's scope (``set_scope`` names which), as the caller, within
    the caller's own."""
    app = app_of(request)
    scope = from_request(body.scope)
    change = await run_in_threadpool(
        lambda: set_scope(
            app.sessions,
            tenant_id=principal.tenant_id,
            scope=scope,
            actor=principal.identity,
            clock=app.clock,
            granted_by=principal.scope,
        )
    )
    return _read(change)


@router.put(
    "/v1/queues/{name}/scope",
    response_model=ScopeRead,
    summary="Let a queue show only the cases in a scope",
    responses=problem_responses(403, 404, 422),
)
async def set_queue_scope(
    request: Request, principal: Manager, name: Name, body: ScopeBody
) -> ScopeRead:
    app = app_of(request)
    scope = from_request(body.scope)
    if not scope.within(principal.scope):
        raise Forbidden(f"a principal limited to {principal.scope.describe()} may not grant more")

    def write() -> ScopeChange:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id) as uow:
            queue = queues_of(uow).get(name)
            if queue is None:
                raise NotFound(f"no queue {name}")
            change = access_scopes.set_queue_scope(
                uow, queue=queue, scope=scope, actor=principal.identity, now=app.clock.now()
            )
            uow.commit()
            return change

    return _read(await run_in_threadpool(write))


@router.get(
    "/v1/admin/brand-rules", response_model=list[BrandRuleRead], summary="The tenant's brands"
)
async def list_brand_rules(request: Request, principal: Manager) -> list[BrandRuleRead]:
    app = app_of(request)
    rules = await run_in_threadpool(
        lambda: access_scopes.list_brand_rules(app.sessions, tenant_id=principal.tenant_id)
    )
    return [BrandRuleRead(**vars(r)) for r in rules]


@router.put(
    "/v1/admin/brand-rules",
    response_model=BrandChangeRead,
    summary="Name the brand of a store's orders, or of orders with a tag",
    responses=problem_responses(403, 422),
)
async def put_brand_rule(
    request: Request, principal: Manager, body: BrandRuleBody
) -> BrandChangeRead:
    _unscoped(principal)
    app = app_of(request)
    moved = await run_in_threadpool(
        lambda: access_scopes.set_brand_rule(
            app.sessions,
            tenant_id=principal.tenant_id,
            kind=body.kind,
            value=body.value,
            brand=body.brand,
            actor=principal.identity,
            clock=app.clock,
        )
    )
    return BrandChangeRead(orders_moved=moved)


@router.delete(
    "/v1/admin/brand-rules/{kind}/{value}",
    status_code=204,
    response_class=Response,
    summary="Remove a brand rule (a store's orders lose the brand it gave them)",
    responses=problem_responses(403),
)
async def delete_brand_rule(
    request: Request,
    principal: Manager,
    kind: RuleKind,
    value: Annotated[str, Path(min_length=1, max_length=VALUE_MAX, pattern=NO_NUL)],
) -> Response:
    _unscoped(principal)
    app = app_of(request)
    await run_in_threadpool(
        lambda: access_scopes.set_brand_rule(
            app.sessions,
            tenant_id=principal.tenant_id,
            kind=kind,
            value=value,
            brand=None,
            actor=principal.identity,
            clock=app.clock,
        )
    )
    return Response(status_code=204)
