"""Usage on ``/metrics``: quota warnings and refusals counted, month-to-date use per tenant.

The counters (``USAGE_METRICS``) are labelled by meter only, a closed set, and live on a
process-wide registry of their own, as the processing counters do: a warning or refusal
happens in a request handler, a worker or a CLI command alike. A rise in
``orderops_usage_quota_refusals_total`` is a tenant being turned away at the door.

The per-tenant gauges are read from the database at each scrape (``UsageCollector``), as
the lag gauges are: a tenant label is fine for the few tenants a desk serves, so they are
shown only while the desk serves at most ``ORDEROPS_USAGE_METRICS_MAX_TENANTS``; past
that the page keeps its size and ``orderops_usage_tenants_shown`` says 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError

from orderops.domain.usage import Meter, QuotaLevel

log = logging.getLogger(__name__)

WARNINGS_METRIC = "orderops_usage_quota_warnings_total"
REFUSALS_METRIC = "orderops_usage_quota_refusals_total"
MONTH_METRIC = "orderops_usage_month_to_date"
LEVEL_METRIC = "orderops_usage_quota_level"
SHOWN_METRIC = "orderops_usage_tenants_shown"
LEVELS = {QuotaLevel.OK: 0, QuotaLevel.WARNING: 1, QuotaLevel.EXCEEDED: 2}


@dataclass(frozen=True)
class UsageMetrics:
    registry: CollectorRegistry
    warnings: Counter
    refusals: Counter

    def warned(self, meter: Meter) -> None:
        self.warnings.labels(meter=str(meter)).inc()

    def refused(self, meter: Meter) -> None:
        self.refusals.labels(meter=str(meter)).inc()

    def count_of(self, metric: str, meter: Meter) -> float:
        return self.registry.get_sample_value(metric, {"meter": str(meter)}) or 0.0


def create_usage_metrics(registry: CollectorRegistry | None = None) -> UsageMetrics:
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    return UsageMetrics(
        registry=registry,
        warnings=Counter(
            "orderops_usage_quota_warnings",
            "Soft monthly quota limits reached (each recorded once per tenant, meter and "
            "month, with an audit record), by meter.",
            labelnames=("meter",),
            registry=registry,
        ),
        refusals=Counter(
            "orderops_usage_quota_refusals",
            "Requests refused because a hard monthly quota was reached (ingest: 429; model "
            "calls: templates only), by meter.",
            labelnames=("meter",),
            registry=registry,
        ),
    )


USAGE_METRICS = create_usage_metrics()
"""This process's quota counters."""


@dataclass(frozen=True)
class TenantUsage:
    """One tenant's month so far: use per meter, and the level of each meter with a quota."""

    tenant_id: str
    used: dict[Meter, int]
    levels: dict[Meter, QuotaLevel]


class UsageCollector:
    """Gauges over ``measure``, called once per scrape; None from it: too many tenants."""

    def __init__(self, measure: Callable[[], Sequence[TenantUsage] | None]) -> None:
        self._measure = measure

    def describe(self) -> Iterable[Metric]:
        yield _shown(None)
        yield _month()
        yield _level()

    def collect(self) -> Iterable[Metric]:
        try:
            usage = self._measure()
        except SQLAlchemyError:
            log.exception("usage metrics: the database did not answer")
            usage = None
        if usage is None:
            yield _shown(0)
            return
        yield _shown(1)
        month, level = _month(), _level()
        for tenant in usage:
            for meter, quantity in sorted(tenant.used.items()):
                month.add_metric([tenant.tenant_id, str(meter)], quantity)
            for meter, state in sorted(tenant.levels.items()):
                level.add_metric([tenant.tenant_id, str(meter)], LEVELS[state])
        yield month
        yield level


def _month() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        MONTH_METRIC,
        "Use this calendar month (UTC), per tenant and meter, in the meter's unit "
        "(model_cost: micro-dollars; evidence_bytes: bytes).",
        labels=["tenant", "meter"],
    )


def _level() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        LEVEL_METRIC,
        "Per tenant and meter with a quota: 0 within it, 1 past the soft limit, 2 at the "
        "hard limit (refusing).",
        labels=["tenant", "meter"],
    )


def _shown(value: float | None) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        SHOWN_METRIC,
        "1 when per-tenant usage is on this page; 0 when the desk serves more tenants than "
        "ORDEROPS_USAGE_METRICS_MAX_TENANTS or the database failed.",
        value=value,
    )
