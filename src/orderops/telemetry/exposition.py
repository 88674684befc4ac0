"""The text of ``/metrics``: process metrics, this host's event metrics, database gauges.

One process (``orderops serve``): every registry is rendered as it is, plus
prometheus_client's process and platform collectors (CPU, memory, open files, GC).

Several processes on one host (the API under several uvicorn workers, ``orderops worker``
processes): set ``PROMETHEUS_MULTIPROC_DIR`` to one empty directory for all of them before
they start. prometheus_client then keeps every counter and histogram of every process in
files there, and the page sums them (``MultiProcessCollector``), so the counters are the
host's, whichever process answers the scrape. The per-process registries are then left
out (their values are in the files), and the process collector describes only the
process that answered. Gauges read from the database are the same in every process.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The shared directory when the host runs in multiprocess mode, else None."""
    return os.environ.get(MULTIPROCESS_ENV) or None


def _process_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(_Borrowed(collector))
    return registry


class _Borrowed(Collector):
    """One of prometheus_client's default collectors on another registry (it is already
    registered on the global one, which a collector object may not leave)."""

    def __init__(self, collector: Collector) -> None:
        self._collector = collector

    def collect(self):  # type: ignore[no-untyped-def]  # prometheus_client's own signature
        return self._collector.collect()


_PROCESS = _process_registry()


def render(
    counted: Iterable[CollectorRegistry], read_at_scrape: Iterable[CollectorRegistry]
) -> bytes:
    """The exposition: ``counted`` are the in-process counter registries (replaced by the
    shared files in multiprocess mode), ``read_at_scrape`` the database collectors."""
    shared = multiprocess_dir()
    if shared is not None:
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined, path=shared)  # type: ignore[no-untyped-call]
        counted = (combined,)
    return b"".join(generate_latest(r) for r in (_PROCESS, *counted, *read_at_scrape))
