"""This process's event metrics: counters and histograms recorded where things happen.

What the desk *is* (inbox depth, open cases, approvals waiting) is read from the database
at each scrape (``telemetry/desk_metrics.py``); what it *does* (events accepted, how long
processing took, each delivery attempt, each model call) is counted here, as it happens,
by the process that does it. Several processes (the API, ``orderops worker`` x N) each
count their own: with ``PROMETHEUS_MULTIPROC_DIR`` set (before the process starts; one
directory shared by every process of the host, emptied at deploy) prometheus_client keeps
the values in files there and ``/metrics`` sums them over all processes; without it each
process's ``/metrics`` shows its own (one-process installs: ``orderops serve``).

Labels are closed sets only: no tenant, no order, no raw path. ``source`` is the intake
channel cut to its kind (``api``, ``webhook:shopify``, ``import:csv``, ``file``), the
route is FastAPI's template (``/v1/cases/{case_id}``), never the path a client sent.
Tenants appear only on the gauges read from the database, which have one series per
tenant whatever the traffic (docs/OPERATIONS.md, "Metrics").
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds, for work a caller waits on (an HTTP answer, a vendor call, a model call)."""

QUEUE_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)
"""Seconds, from an event's acceptance to the end of its processing (queueing included)."""

DETECTOR_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25)
"""Seconds: one detector judging one order is pure computation, tens of microseconds."""

_LABEL_PART = re.compile(r"[^a-z0-9_.-]+")
_KEPT_SUFFIX = frozenset({"webhook", "import"})


def source_label(channel: str) -> str:
    """An intake channel as a label value from a closed set.

    ``webhook:<provider>`` and ``import:<format>`` keep their suffix (providers and formats
    are the desk's own short lists); any other channel keeps its kind only, so a file name
    (``file:orders.jsonl``) never becomes a series of its own.
    """
    kind, _, rest = channel.partition(":")
    kind = _LABEL_PART.sub("_", kind.lower())[:20] or "unknown"
    if kind in _KEPT_SUFFIX and rest:
        return f"{kind}:{_LABEL_PART.sub('_', rest.lower())[:32]}"
    return kind


@dataclass
class TelemetryMetrics:
    """The counters and histograms, and the small helpers the desk's hooks call."""

    registry: CollectorRegistry
    ingest_events: Counter
    ingest_accept: Histogram
    processing_latency: Histogram
    detector_run: Histogram
    delivery_attempts: Counter
    delivery_duration: Histogram
    circuits_open: Gauge
    model_duration: Histogram
    model_tokens: Counter
    http_requests: Counter
    http_duration: Histogram
    _open_circuits: dict[str, set[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def ingested(self, channel: str, outcomes: Iterable[str], *, seconds: float) -> None:
        """One intake call: each event's outcome (accepted, duplicate, rejected) and the
        time the call took to validate and store them all."""
        source = source_label(channel)
        for outcome in outcomes:
            self.ingest_events.labels(source=source, outcome=outcome).inc()
        self.ingest_accept.labels(source=source).observe(seconds)

    def processed(self, waited_seconds: Iterable[float]) -> None:
        """Events processed: for each, the seconds since it was received."""
        for seconds in waited_seconds:
            self.processing_latency.observe(max(0.0, seconds))

    def delivery(self, system: str, outcome: str, *, seconds: float) -> None:
        self.delivery_attempts.labels(system=system, outcome=outcome).inc()
        self.delivery_duration.labels(system=system).observe(seconds)

    def circuit(self, system: str, tenant_id: str, *, is_open: bool) -> None:
        """A circuit's state after a call; the gauge counts the tenants whose circuit for
        ``system`` this process holds open (the tenant itself is no label)."""
        with self._lock:
            tenants = self._open_circuits.setdefault(system, set())
            before = len(tenants)
            if is_open:
                tenants.add(tenant_id)
            else:
                tenants.discard(tenant_id)
            if len(tenants) != before or before == 0:
                self.circuits_open.labels(system=system).set(len(tenants))

    def model_call(
        self, *, outcome: str, seconds: float, prompt_tokens: int = 0, completion_tokens: int = 0
    ) -> None:
        self.model_duration.labels(outcome=outcome).observe(seconds)
        if prompt_tokens:
            self.model_tokens.labels(kind="prompt").inc(prompt_tokens)
        if completion_tokens:
            self.model_tokens.labels(kind="completion").inc(completion_tokens)

    def request(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method=method, route=route, status=str(status)).inc()
        self.http_duration.labels(method=method, route=route).observe(seconds)


def create_telemetry_metrics(registry: CollectorRegistry | None = None) -> TelemetryMetrics:
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    return TelemetryMetrics(
        registry=registry,
        ingest_events=Counter(
            "orderops_ingest_events",
            "Events offered to the intake, by source and outcome (accepted: stored in the "
            "inbox; duplicate: already there; rejected: a dead letter).",
            labelnames=("source", "outcome"),
            registry=registry,
        ),
        ingest_accept=Histogram(
            "orderops_ingest_accept_duration_seconds",
            "Seconds one intake call took to validate and store its events (one request "
            "body, delivery or import chunk), by source.",
            labelnames=("source",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        processing_latency=Histogram(
            "orderops_processing_latency_seconds",
            "Seconds from an event's acceptance to the end of its processing (time waiting "
            "in the inbox included): how late cases open.",
            buckets=QUEUE_BUCKETS,
            registry=registry,
        ),
        detector_run=Histogram(
            "orderops_detector_run_duration_seconds",
            "Seconds one detector took to judge one order, by detector (exception type).",
            labelnames=("detector",),
            buckets=DETECTOR_BUCKETS,
            registry=registry,
        ),
        delivery_attempts=Counter(
            "orderops_outbox_delivery_attempts",
            "Writeback delivery attempts, by vendor system and outcome (delivered, "
            "unconfirmed, retry, deferred, conflict, failed).",
            labelnames=("system", "outcome"),
            registry=registry,
        ),
        delivery_duration=Histogram(
            "orderops_outbox_delivery_duration_seconds",
            "Seconds one writeback delivery attempt took (vendor calls and read-back), by system.",
            labelnames=("system",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        circuits_open=Gauge(
            "orderops_connector_circuits_open",
            "Tenants whose circuit breaker for a vendor system is open in this process "
            "(deliveries to it deferred), by system.",
            labelnames=("system",),
            multiprocess_mode="livesum",
            registry=registry,
        ),
        model_duration=Histogram(
            "orderops_model_request_duration_seconds",
            "Seconds one language-model call took, by outcome (ok, error).",
            labelnames=("outcome",),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        model_tokens=Counter(
            "orderops_model_tokens",
            "Language-model tokens used, by kind (prompt, completion).",
            labelnames=("kind",),
            registry=registry,
        ),
        http_requests=Counter(
            "orderops_http_requests",
            "HTTP requests answered, by method, route template and status code.",
            labelnames=("method", "route", "status"),
            registry=registry,
        ),
        http_duration=Histogram(
            "orderops_http_request_duration_seconds",
            "Seconds from a request's arrival to its answer's last byte, by method and "
            "route template (POST /v1/events and /webhooks/...: the accept latency).",
            labelnames=("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
    )


METRICS = create_telemetry_metrics()
"""This process's event metrics (one per process; ``/metrics`` exposes them)."""
