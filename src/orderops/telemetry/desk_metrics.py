"""The desk's state as Prometheus gauges, read from the database at each scrape.

``workflow/desk_state.py`` measures (one read-only unit of work per tenant); this module
only shapes the figures into metric families, so it stays below every layer of the desk.
The tenant is a label here: these series number tenants x exception types at most,
whatever the traffic, and the page leaves them out past ``max_tenants`` (then
``orderops_desk_tenants_shown`` is 0). When the database does not answer,
``orderops_desk_query_up`` is 0 and the rest of the page is still served.

``orderops_cases_opened_total`` and ``orderops_cases_resolved_total`` are counters kept
by the database: the number of cases ever opened, and of cases resolved now, per type.
They only rise, except when a resolved case reopens or a case is erased, which
Prometheus's ``rate`` reads as a counter reset (a blip, never a negative rate).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

QUERY_UP_METRIC = "orderops_desk_query_up"
SHOWN_METRIC = "orderops_desk_tenants_shown"


@dataclass(frozen=True, kw_only=True)
class TenantDesk:
    """One tenant's desk at a scrape. Keys of the dicts: exception types or outbox statuses."""

    tenant_id: str
    cases_open: dict[str, int]
    cases_opened: dict[str, int]
    cases_resolved: dict[str, int]
    sla_breached: dict[str, int]
    approvals_waiting: int
    oldest_approval_age_seconds: float | None
    outbox: dict[str, int]
    outbox_most_attempts: int


EXPORTED_METRICS = frozenset(
    {
        QUERY_UP_METRIC,
        SHOWN_METRIC,
        "orderops_cases_open",
        "orderops_cases_opened_total",
        "orderops_cases_resolved_total",
        "orderops_cases_sla_breached",
        "orderops_approvals_waiting",
        "orderops_approvals_oldest_age_seconds",
        "orderops_outbox_messages",
        "orderops_outbox_most_attempts",
    }
)
"""Every sample name this collector can expose."""


class DeskCollector:
    """A prometheus_client custom collector over ``measure`` (one call per scrape; None:
    too many tenants). ``collect`` blocks on the database: render in a worker thread."""

    def __init__(self, measure: Callable[[], Sequence[TenantDesk] | None]) -> None:
        self._measure = measure

    def describe(self) -> Iterable[Metric]:
        yield _gauge(QUERY_UP_METRIC, "", value=None)
        yield _gauge(SHOWN_METRIC, "", value=None)
        yield from _families()

    def collect(self) -> Iterable[Metric]:
        try:
            desks = self._measure()
        except SQLAlchemyError:  # the page must still reach the scraper
            log.exception("desk metrics: the database did not answer")
            yield _up(0)
            return
        yield _up(1)
        yield _gauge(
            SHOWN_METRIC,
            "1 when the per-tenant desk gauges are on this page; 0 when the desk serves "
            "more tenants than ORDEROPS_METRICS_MAX_TENANTS.",
            value=0 if desks is None else 1,
        )
        if desks is None:
            return
        (open_, opened, resolved, breached, waiting, oldest, outbox, attempts) = _families()
        for desk in desks:
            tenant = desk.tenant_id
            for kind, count in sorted(desk.cases_open.items()):
                open_.add_metric([tenant, kind], count)
            for kind, count in sorted(desk.cases_opened.items()):
                opened.add_metric([tenant, kind], count)
                resolved.add_metric([tenant, kind], desk.cases_resolved.get(kind, 0))
            for kind in sorted(desk.cases_opened):
                breached.add_metric([tenant, kind], desk.sla_breached.get(kind, 0))
            waiting.add_metric([tenant], desk.approvals_waiting)
            oldest.add_metric([tenant], desk.oldest_approval_age_seconds or 0)
            for status, count in sorted(desk.outbox.items()):
                outbox.add_metric([tenant, status], count)
            attempts.add_metric([tenant], desk.outbox_most_attempts)
        yield from (open_, opened, resolved, breached, waiting, oldest, outbox, attempts)


def _families() -> tuple[GaugeMetricFamily | CounterMetricFamily, ...]:
    by_type = ["tenant", "type"]
    return (
        GaugeMetricFamily(
            "orderops_cases_open",
            "Cases not yet resolved or rejected, per tenant and exception type.",
            labels=by_type,
        ),
        CounterMetricFamily(
            "orderops_cases_opened",
            "Cases ever opened, per tenant and exception type (counted by the database).",
            labels=by_type,
        ),
        CounterMetricFamily(
            "orderops_cases_resolved",
            "Cases resolved, per tenant and exception type (counted by the database; a "
            "reopened case leaves the count).",
            labels=by_type,
        ),
        GaugeMetricFamily(
            "orderops_cases_sla_breached",
            "Open cases past their SLA's response window, per tenant and exception type.",
            labels=by_type,
        ),
        GaugeMetricFamily(
            "orderops_approvals_waiting",
            "Actions waiting for an approver, per tenant.",
            labels=["tenant"],
        ),
        GaugeMetricFamily(
            "orderops_approvals_oldest_age_seconds",
            "Seconds the oldest action waiting for an approver has waited (0: none waits).",
            labels=["tenant"],
        ),
        GaugeMetricFamily(
            "orderops_outbox_messages",
            "Outbox messages per tenant and status: open ones (pending, in_flight, "
            "unconfirmed) and those an operator must look at (conflict, failed).",
            labels=["tenant", "status"],
        ),
        GaugeMetricFamily(
            "orderops_outbox_most_attempts",
            "The most delivery attempts spent on any open outbox message, per tenant.",
            labels=["tenant"],
        ),
    )


def _up(value: float) -> GaugeMetricFamily:
    return _gauge(
        QUERY_UP_METRIC,
        "1 when the desk gauges could be read at this scrape, 0 when the database failed.",
        value=value,
    )


def _gauge(name: str, documentation: str, *, value: float | None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
