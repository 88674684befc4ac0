"""The desk's later steps as spans with their ids bound for logs: processing, delivery.

Each step runs in another process or later than the request that caused it, so its span
is a child of the trace context its row carries (``tracing.py``), and its log lines name
the tenant and the row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import SpanKind

from orderops.telemetry.logs import bound_ids
from orderops.telemetry.tracing import span


@contextmanager
def processing(*, tenant_id: str, inbox_id: str, envelope: Mapping[str, Any]) -> Iterator[None]:
    """One inbox event applied by a worker: a child of the request that accepted it."""
    with (
        bound_ids(tenant=tenant_id, inbox_id=inbox_id),
        span(
            "inbox.process",
            carrier=envelope,
            kind=SpanKind.CONSUMER,
            attributes={"orderops.tenant": tenant_id, "orderops.inbox_id": inbox_id},
        ),
    ):
        yield


@contextmanager
def delivering(
    *, tenant_id: str, message_id: str, system: str, operation: str, payload: Mapping[str, Any]
) -> Iterator[None]:
    """One outbox message delivered: a child of the processing that queued it."""
    with (
        bound_ids(tenant=tenant_id, outbox_id=message_id),
        span(
            f"outbox.deliver {system}.{operation}",
            carrier=payload,
            kind=SpanKind.CONSUMER,
            attributes={
                "orderops.tenant": tenant_id,
                "orderops.outbox_id": message_id,
                "orderops.system": system,
            },
        ),
    ):
        yield


@contextmanager
def vendor_call(system: str, method: str, path: str) -> Iterator[None]:
    """One HTTP request to a vendor (the path template the connector chose, no query)."""
    with span(
        f"{system} {method}",
        kind=SpanKind.CLIENT,
        attributes={"http.request.method": method, "url.path": path, "orderops.system": system},
    ):
        yield
