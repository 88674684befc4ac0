"""Counts of what processing could not do: dead-lettered events and transient errors.

Processing runs in request handlers, worker threads and CLI commands, none of which
hold the web app, so these counters live on one process-wide registry of their own
(``PROCESSING_METRICS``), which ``/metrics`` exposes next to the webhook counters. Not
prometheus_client's global ``REGISTRY``, for the reasons webhook_metrics.py gives. Labels
are closed sets (``FailureClass``, ``TransientKind``): never a tenant, never a message.

A rise in ``orderops_processing_dead_letters_total`` means events are being accepted
that the desk cannot act on (see ``orderops deadletters list``); a steady rate of
``orderops_processing_transient_errors_total{reason="deadlock"}`` means workers and
request handlers contend for the same rows, which costs latency but never events.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

from orderops.storage.transient import TransientKind
from orderops.workflow.processing_failures import FailureClass

DEAD_LETTERED_METRIC = "orderops_processing_dead_letters_total"
TRANSIENT_METRIC = "orderops_processing_transient_errors_total"


@dataclass(frozen=True)
class ProcessingMetrics:
    registry: CollectorRegistry
    dead_lettered: Counter
    transient: Counter

    def dead_letter(self, reason: FailureClass) -> None:
        self.dead_lettered.labels(reason=str(reason)).inc()

    def transient_error(self, kind: TransientKind) -> None:
        self.transient.labels(reason=str(kind)).inc()

    def dead_lettered_count(self, reason: FailureClass) -> float:
        value = self.registry.get_sample_value(DEAD_LETTERED_METRIC, {"reason": str(reason)})
        return value or 0.0


def create_processing_metrics(registry: CollectorRegistry | None = None) -> ProcessingMetrics:
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    return ProcessingMetrics(
        registry=registry,
        dead_lettered=Counter(
            "orderops_processing_dead_letters",
            "Accepted events that failed processing on every attempt, by reason class.",
            labelnames=("reason",),
            registry=registry,
        ),
        transient=Counter(
            "orderops_processing_transient_errors",
            "Transient database errors met while processing events (retried, no attempt "
            "spent), by kind.",
            labelnames=("reason",),
            registry=registry,
        ),
    )


PROCESSING_METRICS = create_processing_metrics()
"""This process's processing counters."""
