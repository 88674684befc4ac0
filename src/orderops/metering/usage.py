"""Counting what tenants use and holding them to their quotas: what the counted places call.

Each place that stores something a tenant pays for calls ``count`` once, in the unit of
work that stores it (``storage/repositories/usage.py`` adds it at that commit). The doors
that a hard limit closes call ``hold_to_quota`` (ingest) or ``model_refusal`` (drafting
with a language model) before they do the work, in the same unit of work; each also
records the soft-limit warning, once per tenant, meter and month (an audit record and a
metric).

API calls are the exception: counted in the process and added every few seconds
(``api/usage_meter.py``), because counting each in its request would make every read a
write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.environments import read_tenant_id
from orderops.domain.usage import (
    MODEL_METERS,
    Meter,
    Month,
    Quota,
    QuotaExceeded,
    QuotaLevel,
    QuotaStatus,
    day_of,
)
from orderops.metering.usage_metrics import USAGE_METRICS
from orderops.metering.usage_settings import UsageSettings
from orderops.storage.repositories.usage import CounterKey, add_to_counters, tally
from orderops.storage.tables.usage import UsageCounter, UsageQuota
from orderops.storage.uow import UnitOfWork

ACTOR = "usage"
QUOTAS: Table = UsageQuota.__table__  # type: ignore[assignment]
DIMENSION_LENGTH = 100


def environment_of(tenant_id: str) -> str:
    """The environment a tenant's use is counted in. An environment is a tenant of its own
    (``acme``, ``acme.test``), so its id says which, with no read."""
    return str(read_tenant_id(tenant_id)[1])


def counter_key(tenant_id: str, meter: Meter, dimension: str, at: datetime) -> CounterKey:
    return CounterKey(
        tenant_id=tenant_id,
        meter=str(meter),
        day=day_of(at),
        environment=environment_of(tenant_id),
        dimension=dimension[:DIMENSION_LENGTH],
    )


def count(uow: UnitOfWork, meter: Meter, dimension: str, quantity: int, *, at: datetime) -> None:
    """Count ``quantity`` on the day of ``at``, committed with the unit of work."""
    tally(uow.session, counter_key(uow.tenant_id, meter, dimension, at), quantity)


def count_each(uow: UnitOfWork, meter: Meter, dimensions: Iterable[str], *, at: datetime) -> None:
    """Count one for each dimension given (e.g. the system of each delivered writeback)."""
    for dimension in dimensions:
        count(uow, meter, dimension, 1, at=at)


def count_model_use(
    uow: UnitOfWork, *, model: str, prompt_tokens: int, completion_tokens: int, at: datetime
) -> None:
    """A language-model call's tokens, and its cost when the model has a price."""
    count(uow, Meter.MODEL_TOKENS, f"{model}:prompt", prompt_tokens, at=at)
    count(uow, Meter.MODEL_TOKENS, f"{model}:completion", completion_tokens, at=at)
    price = UsageSettings().price_of(model)
    if price is not None:
        cost = price.cost_micros(prompt_tokens, completion_tokens)
        count(uow, Meter.MODEL_COST, model, cost, at=at)


def add_api_calls(
    sessions: sessionmaker[Session], tenant_id: str, calls: Mapping[tuple[str, str], int]
) -> None:
    """Add counted API calls, ``(day, route group) -> calls``, in one transaction."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        environment = environment_of(tenant_id)
        add_to_counters(
            uow.session,
            {
                CounterKey(tenant_id, str(Meter.API_CALLS), day, environment, group): n
                for (day, group), n in calls.items()
            },
        )
        uow.commit()


# --- quotas ---------------------------------------------------------------------------


def quota_statuses(
    uow: UnitOfWork, *, now: datetime, meters: Iterable[Meter] | None = None
) -> list[QuotaStatus]:
    """The tenant's quotas (on ``meters``, or all) with this month's use against them.

    One indexed read when the tenant has no quota (the usual case, and the cost at the
    door), two when it has: the use is a range of the counters' key per meter. The quotas
    are read as plain rows (a Core select of the table, filtered by the tenant here and by
    row-level security on PostgreSQL): at the door, loading ORM objects cost more than the
    query."""
    query = select(QUOTAS.c.meter, QUOTAS.c.soft_limit, QUOTAS.c.hard_limit).where(
        QUOTAS.c.tenant_id == uow.tenant_id
    )
    if meters is not None:
        query = query.where(QUOTAS.c.meter.in_([str(m) for m in meters]))
    quotas = {
        meter: (soft, hard)
        for meter, soft, hard in uow.session.execute(query.order_by(QUOTAS.c.meter))
    }
    if not quotas:
        return []
    month = Month.of(now)
    used = dict(
        uow.session.execute(
            select(UsageCounter.meter, func.sum(UsageCounter.quantity))
            .where(
                UsageCounter.tenant_id == uow.tenant_id,
                UsageCounter.meter.in_(list(quotas)),
                UsageCounter.day >= month.first_day,
                UsageCounter.day < month.next.first_day,
            )
            .group_by(UsageCounter.meter)
        ).all()
    )
    return [
        QuotaStatus(Quota(Meter(meter), soft, hard), int(used.get(meter) or 0), month)
        for meter, (soft, hard) in quotas.items()
    ]


def hold_to_quota(uow: UnitOfWork, meter: Meter, *, now: datetime) -> None:
    """Refuse (``QuotaExceeded``) when the tenant's hard limit on ``meter`` is reached;
    record the soft-limit warning when that is reached. Call before storing anything.

    A refusal rolls the caller's transaction back, warning and all: the API's 429 answer
    records it afterwards (``record_refusal``)."""
    for status in quota_statuses(uow, now=now, meters=[meter]):
        _settle(uow, status, now=now)


def model_refusal(uow: UnitOfWork, *, now: datetime) -> str | None:
    """Why the tenant's language-model use is stopped this month (a hard limit on tokens
    or cost), or None: then drafts come from the templates alone."""
    statuses = quota_statuses(uow, now=now, meters=MODEL_METERS)
    warn_if_due(uow, statuses, now=now)  # the recommendation commits, the refusal with it
    for status in statuses:
        if status.level is QuotaLevel.EXCEEDED:
            USAGE_METRICS.refused(status.quota.meter)
            return f"model quota reached, drafted from templates only: {status.describe()}"
    return None


def record_refusal(
    sessions: sessionmaker[Session], refusal: QuotaExceeded, *, now: datetime
) -> None:
    """The warning of a refusal, in a transaction of its own: the refused one rolled back.

    So a tenant whose use jumped past both limits at once is still warned (once)."""
    with UnitOfWork(sessions, tenant_id=refusal.tenant_id) as uow:
        _warn_once(uow, refusal.status, now=now)
        uow.commit()


def warn_if_due(uow: UnitOfWork, statuses: Iterable[QuotaStatus], *, now: datetime) -> None:
    """Record the soft-limit warning of each status at or past it (once per month)."""
    for status in statuses:
        if status.level is not QuotaLevel.OK:
            _warn_once(uow, status, now=now)


def _settle(uow: UnitOfWork, status: QuotaStatus, *, now: datetime) -> None:
    if status.level is QuotaLevel.EXCEEDED:
        USAGE_METRICS.refused(status.quota.meter)
        raise QuotaExceeded(status, tenant_id=uow.tenant_id)  # the caller rolls back
    if status.level is QuotaLevel.WARNING:
        _warn_once(uow, status, now=now)


def _warn_once(uow: UnitOfWork, status: QuotaStatus, *, now: datetime) -> None:
    """The month's first look past the soft limit (or straight past the hard one) writes
    the audit record; the conditional update makes it the only one, across processes."""
    label = status.month.label
    marked = uow.session.execute(
        update(UsageQuota)
        .where(
            UsageQuota.tenant_id == uow.tenant_id,
            UsageQuota.meter == str(status.quota.meter),
            (UsageQuota.warned_month.is_(None)) | (UsageQuota.warned_month != label),
        )
        .values(warned_month=label)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:  # type: ignore[attr-defined]
        return
    USAGE_METRICS.warned(status.quota.meter)
    uow.audit.append(
        at=now,
        actor=ACTOR,
        action="usage.quota_warning",
        entity_type="usage_quota",
        entity_id=str(status.quota.meter),
        data={
            "month": label,
            "used": status.used,
            "soft_limit": status.quota.soft,
            "hard_limit": status.quota.hard,
            "level": str(status.level),
        },
    )
