"""Managing scopes below the tenant: who is limited to which brands, stores, channels and
regions, which queues show which cases, and the tenant's brands.

Every change is audited in its own transaction with the scope before and after. A
scoped administrator hands out only scopes within their own (``granted_by``): otherwise
an administrator limited to one region could make a user, or a key, that sees all of
them. Scopes narrow what a principal sees from its next request on; nothing else about
the identity changes (its keys, its sessions, its role).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Row, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import Forbidden, NotFound
from orderops.domain.scopes import (
    UNRESTRICTED,
    VALUE_MAX,
    AccessScope,
    Dimension,
    InvalidScope,
    normalise,
)
from orderops.resolve.order_scope import STORE_RULE, TAG_RULE, rebrand_store
from orderops.storage.tables import ApiKey, BrandRule
from orderops.storage.tables.access import User
from orderops.storage.tables.queues import Queue
from orderops.storage.uow import UnitOfWork


@dataclass(frozen=True)
class ScopeChange:
    entity_type: str
    entity_id: str
    before: AccessScope
    after: AccessScope


@dataclass(frozen=True)
class BrandRuleInfo:
    kind: str
    value: str
    brand: str
    set_by: str
    set_at: datetime


@dataclass(frozen=True)
class Scopes:
    """Every stored scope of a tenant, for listings (unrestricted ones left out)."""

    users: dict[str, AccessScope]
    keys: dict[str, AccessScope]
    queues: dict[str, AccessScope]


Identity = TypeVar("Identity", User, ApiKey)


def set_user_scope(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    user_id: str,
    scope: AccessScope,
    actor: str,
    clock: Clock,
    granted_by: AccessScope = UNRESTRICTED,
) -> ScopeChange:
    """Limit a user (and so every key acting as them) to ``scope``."""
    return _set_scope(
        sessions, User, "user", "user", tenant_id, user_id, scope, actor, clock, granted_by
    )


def set_key_scope(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    key_id: str,
    scope: AccessScope,
    actor: str,
    clock: Clock,
    granted_by: AccessScope = UNRESTRICTED,
) -> ScopeChange:
    """Narrow one key below its user's scope (it never sees more than its user)."""
    return _set_scope(
        sessions, ApiKey, "api_key", "API key", tenant_id, key_id, scope, actor, clock, granted_by
    )


def _set_scope(
    sessions: sessionmaker[Session],
    model: type[Identity],
    kind: str,
    noun: str,
    tenant_id: str,
    row_id: str,
    scope: AccessScope,
    actor: str,
    clock: Clock,
    granted_by: AccessScope,
) -> ScopeChange:
    _may_grant(granted_by, scope)
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = uow.session.scalar(
            select(model).where(model.tenant_id == tenant_id, model.id == row_id)
        )
        if row is None:
            raise NotFound(f"no {noun} {row_id}")
        change = _record(uow, row, kind, row.id, scope, actor=actor, at=clock.now())
        uow.commit()
        return change


def set_queue_scope(
    uow: UnitOfWork, *, queue: Queue, scope: AccessScope, actor: str, now: datetime
) -> ScopeChange:
    """The queue shows only the cases in ``scope``, in the caller's transaction."""
    return _record(uow, queue, "queue", queue.name, scope, actor=actor, at=now)


def _may_grant(granted_by: AccessScope, scope: AccessScope) -> None:
    if not scope.within(granted_by):
        raise Forbidden(
            f"a principal limited to {granted_by.describe()} may not grant "
            f"{scope.describe()}: only scopes within its own"
        )


def _record(
    uow: UnitOfWork,
    row: User | ApiKey | Queue,
    entity_type: str,
    entity_id: str,
    scope: AccessScope,
    *,
    actor: str,
    at: datetime,
) -> ScopeChange:
    before = AccessScope.from_json(row.scope)
    if before != scope:
        row.scope = None if scope.unrestricted else scope.to_json()
        uow.audit.append(
            at=at,
            actor=actor,
            action=f"{entity_type}.scope_changed",
            entity_type=entity_type,
            entity_id=entity_id,
            data={"from": before.to_json(), "to": scope.to_json()},
        )
    return ScopeChange(entity_type, entity_id, before, scope)


def user_scope(sessions: sessionmaker[Session], *, tenant_id: str, user_id: str) -> AccessScope:
    """A user's own scope (a console session sees exactly this)."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        stored = uow.session.scalar(
            select(User.scope).where(User.tenant_id == tenant_id, User.id == user_id)
        )
        return AccessScope.from_json(stored)


def stored_scopes(sessions: sessionmaker[Session], *, tenant_id: str) -> Scopes:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        users = uow.session.execute(
            select(User.id, User.scope).where(User.tenant_id == tenant_id, User.scope.is_not(None))
        ).all()
        keys = uow.session.execute(
            select(ApiKey.id, ApiKey.scope).where(
                ApiKey.tenant_id == tenant_id, ApiKey.scope.is_not(None)
            )
        ).all()
        queues = uow.session.execute(
            select(Queue.name, Queue.scope).where(
                Queue.tenant_id == tenant_id, Queue.scope.is_not(None)
            )
        ).all()
    return Scopes(users=_limited(users), keys=_limited(keys), queues=_limited(queues))


def _limited(rows: Sequence[Row[str, dict[str, Any] | None]]) -> dict[str, AccessScope]:
    found = {name: AccessScope.from_json(raw) for name, raw in rows}
    return {name: scope for name, scope in found.items() if not scope.unrestricted}


# -- brands -----------------------------------------------------------------------------


def set_brand_rule(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    kind: str,
    value: str,
    brand: str | None,
    actor: str,
    clock: Clock,
) -> int:
    """Name the brand of a store's orders or of orders with a tag (None removes the rule).

    A store rule applies to the store's orders at once (and their cases); a tag rule
    applies to each order from its next update, since an order's tags are not kept.
    Returns the number of orders re-branded now."""
    if kind not in (STORE_RULE, TAG_RULE):
        raise InvalidScope(f"a brand rule is by {STORE_RULE} or by {TAG_RULE}, not {kind!r}")
    value = _brand_value(Dimension.STORE, value, what=kind)
    brand = _brand_value(Dimension.BRAND, brand, what="brand") if brand is not None else None
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        rule = uow.session.scalar(
            select(BrandRule).where(
                BrandRule.tenant_id == tenant_id, BrandRule.kind == kind, BrandRule.value == value
            )
        )
        previous = rule.brand if rule is not None else None
        if previous == brand:
            return 0
        if brand is None:
            assert rule is not None
            uow.session.delete(rule)
        elif rule is None:
            uow.session.add(
                BrandRule(
                    tenant_id=tenant_id,
                    kind=kind,
                    value=value,
                    brand=brand,
                    set_by=actor,
                    set_at=clock.now(),
                )
            )
        else:
            rule.brand, rule.set_by, rule.set_at = brand, actor, clock.now()
        uow.session.flush()
        moved = (
            rebrand_store(uow, store=value, previous=previous, brand=brand)
            if kind == STORE_RULE
            else 0
        )
        uow.audit.append(
            at=clock.now(),
            actor=actor,
            action="brand_rule.set" if brand is not None else "brand_rule.removed",
            entity_type="brand_rule",
            entity_id=f"{kind}:{value}",
            data={"from": previous, "to": brand, "orders_moved": moved},
        )
        uow.commit()
        return moved


def _brand_value(dimension: Dimension, raw: str, *, what: str) -> str:
    value = normalise(dimension, raw)
    if not value or len(value) > VALUE_MAX or "," in value or "=" in value:
        raise InvalidScope(f"{what}: {raw!r} is not a value (1-{VALUE_MAX} characters)")
    return value


def list_brand_rules(sessions: sessionmaker[Session], *, tenant_id: str) -> list[BrandRuleInfo]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.scalars(
            select(BrandRule)
            .where(BrandRule.tenant_id == tenant_id)
            .order_by(BrandRule.kind, BrandRule.value)
        )
        return [BrandRuleInfo(r.kind, r.value, r.brand, r.set_by, r.set_at) for r in rows]
