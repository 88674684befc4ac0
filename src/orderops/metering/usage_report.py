"""Reading usage back: the rows an invoice is built from, totals, quotas, the month so far.

A report covers a list of tenants, each read in a unit of work bound to it: the caller's
one (the API, the console), or an account's environments (``account_tenants``: its live
and test tenants, each row saying which environment it is). ``csv_text`` is the invoice export:
one row per tenant, environment, day, meter and dimension, with the quantity and its unit.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.usage import UNITS, Meter, Month, Period, Quota, QuotaStatus
from orderops.metering.usage import quota_statuses
from orderops.metering.usage_metrics import TenantUsage
from orderops.storage.tables import Tenant
from orderops.storage.tables.usage import UsageCounter, UsageQuota
from orderops.storage.uow import UnitOfWork, tenant_ids

ALL_METERS = [str(m) for m in Meter]
CSV_COLUMNS = ("tenant", "environment", "day", "meter", "dimension", "quantity", "unit")


@dataclass(frozen=True)
class UsageRow:
    tenant: str
    environment: str
    day: str
    meter: str
    dimension: str
    quantity: int
    unit: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UsageReport:
    period: Period
    rows: list[UsageRow]
    quotas: dict[str, list[QuotaStatus]]
    """Per tenant, its quotas with this month's use (as of the report)."""

    def totals(self) -> list[dict[str, Any]]:
        """Per tenant and meter over the period, in the meter's unit."""
        summed: dict[tuple[str, str], int] = {}
        for row in self.rows:
            summed[(row.tenant, row.meter)] = summed.get((row.tenant, row.meter), 0) + row.quantity
        return [
            {"tenant": t, "meter": m, "quantity": q, "unit": UNITS[Meter(m)]}
            for (t, m), q in sorted(summed.items())
        ]

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.period.first.isoformat(),
            "to": self.period.last.isoformat(),
            "rows": [row.as_json() for row in self.rows],
            "totals": self.totals(),
            "quotas": [
                quota_json(tenant, status)
                for tenant, statuses in sorted(self.quotas.items())
                for status in statuses
            ],
        }


def quota_json(tenant: str, status: QuotaStatus) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "meter": str(status.quota.meter),
        "unit": status.unit,
        "month": status.month.label,
        "used": status.used,
        "soft_limit": status.quota.soft,
        "hard_limit": status.quota.hard,
        "level": str(status.level),
        "resets_at": status.month.resets_at.isoformat(),
    }


def usage_report(
    sessions: sessionmaker[Session], tenants: Sequence[str], *, period: Period, now: datetime
) -> UsageReport:
    rows: list[UsageRow] = []
    quotas: dict[str, list[QuotaStatus]] = {}
    for tenant in tenants:
        with UnitOfWork(sessions, tenant_id=tenant, write=False) as uow:
            rows += usage_rows(uow, period)
            quotas[tenant] = quota_statuses(uow, now=now)
    rows.sort(key=lambda r: (r.tenant, r.environment, r.day, r.meter, r.dimension))
    return UsageReport(period, rows, quotas)


def account_tenants(sessions: sessionmaker[Session], account_id: str) -> list[str]:
    """The tenants that are the account's environments (its live one first)."""
    with sessions() as session:  # the tenant registry: no tenant-owned rows read
        rows = session.execute(
            select(Tenant.id, Tenant.environment).where(Tenant.account_id == account_id)
        ).all()
    return [tenant for tenant, environment in sorted(rows, key=lambda r: r[1] != "live")]


def usage_rows(uow: UnitOfWork, period: Period) -> list[UsageRow]:
    start, after = period.bounds
    counters = uow.session.scalars(
        select(UsageCounter).where(
            UsageCounter.tenant_id == uow.tenant_id,
            UsageCounter.meter.in_(ALL_METERS),  # a range of the key per meter
            UsageCounter.day >= start,
            UsageCounter.day < after,
        )
    )
    return [
        UsageRow(
            c.tenant_id,
            c.environment,
            c.day,
            c.meter,
            c.dimension,
            int(c.quantity),
            UNITS[Meter(c.meter)],
        )
        for c in counters
    ]


def csv_text(rows: Sequence[UsageRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                _cell(row.tenant),
                _cell(row.environment),
                row.day,
                _cell(row.meter),
                _cell(row.dimension),
                row.quantity,
                row.unit,
            ]
        )
    return out.getvalue()


def _cell(value: str) -> str:
    """A dimension comes from outside (a model's name, a webhook channel): a cell a
    spreadsheet would run as a formula is written as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# --- quotas ---------------------------------------------------------------------------


def set_quota(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    quota: Quota,
    actor: str,
    clock: Clock,
) -> Quota | None:
    """Store the tenant's limits on one meter (no limit at all removes the quota); audited.
    Returns the quota it replaced, if any."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = uow.session.get(UsageQuota, (tenant_id, str(quota.meter)))
        before = None if row is None else Quota(quota.meter, row.soft_limit, row.hard_limit)
        if quota.soft is None and quota.hard is None:
            if row is not None:
                uow.session.delete(row)
        elif row is None:
            uow.session.add(
                UsageQuota(
                    tenant_id=tenant_id,
                    meter=str(quota.meter),
                    soft_limit=quota.soft,
                    hard_limit=quota.hard,
                    updated_at=now,
                    updated_by=actor,
                )
            )
        else:
            row.soft_limit, row.hard_limit = quota.soft, quota.hard
            row.updated_at, row.updated_by = now, actor
            row.warned_month = None  # new limits: a warning against them is news again
        uow.audit.append(
            at=now,
            actor=actor,
            action="usage.quota_set",
            entity_type="usage_quota",
            entity_id=str(quota.meter),
            data={
                "soft_limit": quota.soft,
                "hard_limit": quota.hard,
                "previous": None if before is None else {"soft": before.soft, "hard": before.hard},
            },
        )
        uow.commit()
    return before


def quota_report(
    sessions: sessionmaker[Session], *, tenant_id: str, now: datetime
) -> list[QuotaStatus]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        return quota_statuses(uow, now=now)


# --- the month so far, for /metrics ------------------------------------------------------


def month_to_date(
    sessions: sessionmaker[Session], *, now: datetime, max_tenants: int
) -> list[TenantUsage] | None:
    """Every tenant's use this month per meter, and its quota levels; None when the desk
    serves more than ``max_tenants`` (the gauges would no longer be few)."""
    tenants = tenant_ids(sessions)
    if len(tenants) > max_tenants:
        return None
    month = Month.of(now)
    found: list[TenantUsage] = []
    for tenant in tenants:
        with UnitOfWork(sessions, tenant_id=tenant, write=False) as uow:
            used = uow.session.execute(
                select(UsageCounter.meter, func.sum(UsageCounter.quantity))
                .where(
                    UsageCounter.tenant_id == tenant,
                    UsageCounter.meter.in_(ALL_METERS),
                    UsageCounter.day >= month.first_day,
                    UsageCounter.day < month.next.first_day,
                )
                .group_by(UsageCounter.meter)
            ).all()
            levels = {s.quota.meter: s.level for s in quota_statuses(uow, now=now)}
        found.append(
            TenantUsage(
                tenant,
                {Meter(m): int(q or 0) for m, q in used},
                levels,
            )
        )
    return found
