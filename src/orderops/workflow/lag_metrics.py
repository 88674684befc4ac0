"""The processing lag as Prometheus gauges, measured when scraped.

A gauge that the workers set would go stale exactly when they stop, which is the moment
it matters; so this collector asks the database at every scrape (``workflow/lag.py``:
three indexed statements, whatever the history). ``describe`` answers without the
database, so registering the collector does no work.

The tenant id is a label: fine for the tens of tenants a desk serves, and the reason
``/metrics`` can be closed with ``ORDEROPS_METRICS_TOKEN``. When the database does not
answer, the lag families are left out and ``orderops_lag_query_up`` is 0, so the rest
of the page (the counters) still reaches the scraper and the alert on ``up`` says why
the lag alerts went quiet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError

from orderops.workflow.lag import TenantLag

log = logging.getLogger(__name__)

QUERY_UP_METRIC = "orderops_lag_query_up"


@dataclass(frozen=True)
class LagGauge:
    name: str
    documentation: str
    value: Callable[[TenantLag], float | None]


LAG_GAUGES: tuple[LagGauge, ...] = (
    LagGauge(
        "orderops_inbox_pending",
        "Accepted events waiting to be processed, per tenant.",
        lambda lag: lag.pending,
    ),
    LagGauge(
        "orderops_inbox_deferred",
        "Events waiting for a key no entity has yet (resolve waits), per tenant.",
        lambda lag: lag.deferred,
    ),
    LagGauge(
        "orderops_inbox_failed",
        "Events that failed processing on every attempt (each has a dead letter), per tenant.",
        lambda lag: lag.failed,
    ),
    LagGauge(
        "orderops_inbox_oldest_pending_age_seconds",
        "Seconds the oldest pending event has waited since it was received (0: none waits).",
        lambda lag: lag.oldest_pending_age_seconds,
    ),
    LagGauge(
        "orderops_outbox_due",
        "Writebacks due for delivery now (retries in backoff excluded), per tenant.",
        lambda lag: lag.outbox_due,
    ),
    LagGauge(
        "orderops_outbox_oldest_due_age_seconds",
        "Seconds the longest-due writeback has been due (0: none is due).",
        lambda lag: lag.oldest_due_age_seconds,
    ),
)

EXPORTED_METRICS = frozenset({QUERY_UP_METRIC} | {gauge.name for gauge in LAG_GAUGES})
"""Every metric name this collector can expose (alert rules may name only these)."""


class LagCollector:
    """A prometheus_client custom collector over ``measure`` (called once per scrape).

    ``collect`` blocks on the database: render the registry in a worker thread.
    """

    def __init__(self, measure: Callable[[], Sequence[TenantLag]]) -> None:
        self._measure = measure

    def describe(self) -> Iterable[Metric]:
        yield _up(None)
        for gauge in LAG_GAUGES:
            yield _family(gauge)

    def collect(self) -> Iterable[Metric]:
        try:
            lags = self._measure()
        except SQLAlchemyError:
            log.exception("lag metrics: the database did not answer")
            yield _up(0)
            return
        yield _up(1)
        for gauge in LAG_GAUGES:
            family = _family(gauge)
            for lag in lags:
                family.add_metric([lag.tenant_id], gauge.value(lag) or 0)
            yield family


def _family(gauge: LagGauge) -> GaugeMetricFamily:
    return GaugeMetricFamily(gauge.name, gauge.documentation, labels=["tenant"])


def _up(value: float | None) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        QUERY_UP_METRIC,
        "1 when the lag figures could be read at this scrape, 0 when the database failed.",
        value=value,
    )
