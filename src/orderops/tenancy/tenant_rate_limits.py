"""Which rate limits a tenant is held to: the configured defaults, or its own.

A tenant's own limit replaces the default for one scope (``ingest`` or ``api``) and one
partition (the tenant as a whole, or each of its keys). Setting and clearing one is
audited in the same transaction (``orderops tenant limits set|clear``); every API process
reads a tenant's limits again within ``tenancy/rate_limits.py``'s ``OVERRIDE_TTL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from limits import parse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.config import Settings
from orderops.domain.clock import Clock
from orderops.domain.errors import NotFound, OrderOpsError
from orderops.domain.rate_limits import Limit, Quota, RatePartition, RateScope
from orderops.storage.tables import Tenant
from orderops.storage.tables.rate_limits import TenantRateLimit
from orderops.storage.uow import UnitOfWork

Quotas = Mapping[tuple[RateScope, RatePartition], Quota]


class InvalidRateLimit(OrderOpsError):
    code = "invalid-rate-limit"


def quota_of(text: str) -> Quota:
    """``"600/second"``, ``"50 per 10 seconds"``: a quota, or InvalidRateLimit."""
    try:
        item = parse(text)
        return Quota(amount=item.amount, seconds=item.get_expiry())
    except ValueError as exc:
        raise InvalidRateLimit(f"not a rate limit: {text!r} (try '600/second')") from exc


def default_quotas(settings: Settings) -> Quotas:
    return {
        (RateScope.INGEST, RatePartition.TENANT): quota_of(settings.rate_limit_ingest_per_tenant),
        (RateScope.INGEST, RatePartition.KEY): quota_of(settings.rate_limit_ingest_per_key),
        (RateScope.API, RatePartition.TENANT): quota_of(settings.rate_limit_api_per_tenant),
        (RateScope.API, RatePartition.KEY): quota_of(settings.rate_limit_api_per_key),
    }


@dataclass(frozen=True)
class EffectiveLimit:
    limit: Limit
    overridden: bool


def tenant_quotas(sessions: sessionmaker[Session], tenant_id: str) -> Quotas:
    """The tenant's overrides only."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.scalars(
            select(TenantRateLimit).where(TenantRateLimit.tenant_id == tenant_id)
        )
        return {
            (RateScope(row.scope), RatePartition(row.partition)): Quota(
                amount=row.amount, seconds=row.window_seconds
            )
            for row in rows
        }


def effective_limits(
    sessions: sessionmaker[Session], *, tenant_id: str, defaults: Quotas
) -> list[EffectiveLimit]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        _known(uow)
    own = tenant_quotas(sessions, tenant_id)
    return [
        EffectiveLimit(Limit(*which, own.get(which, quota)), overridden=which in own)
        for which, quota in defaults.items()
    ]


def set_tenant_limit(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    scope: RateScope,
    partition: RatePartition,
    quota: Quota,
    actor: str,
    clock: Clock,
) -> Quota | None:
    """Give the tenant its own limit for a scope and partition; the previous one, if any."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        _known(uow)
        row = uow.session.get(TenantRateLimit, (tenant_id, str(scope), str(partition)))
        previous = None if row is None else Quota(row.amount, row.window_seconds)
        if row is None:
            row = TenantRateLimit(tenant_id=tenant_id, scope=str(scope), partition=str(partition))
            uow.session.add(row)
        row.amount, row.window_seconds = quota.amount, quota.seconds
        row.set_at, row.set_by = clock.now(), actor
        _audit(uow, "rate_limit.set", scope, partition, actor, clock, quota, previous)
        uow.commit()
    return previous


def clear_tenant_limit(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    scope: RateScope,
    partition: RatePartition,
    actor: str,
    clock: Clock,
) -> Quota | None:
    """Return the tenant to the default for a scope and partition; the limit it had, if any."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        _known(uow)
        row = uow.session.get(TenantRateLimit, (tenant_id, str(scope), str(partition)))
        if row is None:
            return None
        previous = Quota(row.amount, row.window_seconds)
        uow.session.delete(row)
        _audit(uow, "rate_limit.cleared", scope, partition, actor, clock, None, previous)
        uow.commit()
    return previous


def _known(uow: UnitOfWork) -> None:
    if uow.session.get(Tenant, uow.tenant_id) is None:
        raise NotFound(f"no tenant {uow.tenant_id!r}")


def _audit(
    uow: UnitOfWork,
    action: str,
    scope: RateScope,
    partition: RatePartition,
    actor: str,
    clock: Clock,
    quota: Quota | None,
    previous: Quota | None,
) -> None:
    uow.audit.append(
        at=clock.now(),
        actor=actor,
        action=action,
        entity_type="rate_limit",
        entity_id=f"{scope}-{partition}",
        data={
            "limit": None if quota is None else str(quota),
            "previous": None if previous is None else str(previous),
        },
    )
