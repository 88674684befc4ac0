"""OpenTelemetry traces: API -> inbox -> worker -> outbox -> vendor call, one trace.

Free unless configured: without ``ORDEROPS_OTLP_ENDPOINT`` no SDK is imported or set up,
and every span below comes from OpenTelemetry's API-only no-op tracer (a shared
non-recording span; nothing is stamped into rows). With it, ``configure_tracing`` installs
a tracer provider that batches spans to the collector over OTLP/HTTP.

The work is split in time and across processes by the database: the API accepts an event
and a worker processes it later; processing queues an outbox message and a writeback
worker delivers it later still. So the trace context travels in the rows themselves, as
W3C ``traceparent``/``tracestate`` keys: in the inbox row's stored envelope (CloudEvents'
distributed tracing extension names exactly these attributes; a sender's own
``traceparent`` there is kept, so its trace continues) and in the outbox message's
payload. Each later step starts its span as a child of what the row carries, and the
vendor call sends ``traceparent`` on to the vendor.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACER_NAME = "orderops"
CARRIED = ("traceparent", "tracestate")
"""The keys a row carries its trace context in (W3C Trace Context header names)."""

_PROPAGATOR = TraceContextTextMapPropagator()
_override: dict[str, TracerProvider] = {}

M = TypeVar("M", bound=Mapping[str, Any])


def configure_tracing(*, endpoint: str | None, service_name: str) -> bool:
    """Install the SDK exporting to ``endpoint`` (once per process); False when unset."""
    if not endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = SdkTracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)  # OpenTelemetry allows one per process: first wins
    return True


@contextmanager
def use_provider(provider: TracerProvider) -> Iterator[None]:
    """Trace through ``provider`` for a while (tests: an in-memory exporter), without
    replacing the process's global provider, which OpenTelemetry lets be set only once."""
    _override["provider"] = provider
    try:
        yield
    finally:
        _override.pop("provider", None)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME, tracer_provider=_override.get("provider"))


@contextmanager
def span(
    name: str,
    *,
    carrier: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, str | int] | None = None,
) -> Iterator[Span]:
    """A span, current for the block: a child of ``carrier``'s context when it carries
    one (a row's ``traceparent``), else of the current span."""
    context = _extract(carrier) if carrier is not None else None
    with tracer().start_as_current_span(
        name, context=context, kind=kind, attributes=dict(attributes or {})
    ) as current:
        yield current


def stamp(carrier: M) -> M:
    """``carrier`` (an envelope, a payload) with the current trace context added, as a
    copy; the same object when no span is recording (tracing off) or it carries one."""
    if "traceparent" in carrier or not trace.get_current_span().is_recording():
        return carrier
    added: dict[str, str] = {}
    _PROPAGATOR.inject(added)
    return {**carrier, **added}  # type: ignore[return-value]  # a dict of the same items


def outgoing(headers: dict[str, str] | None) -> dict[str, str] | None:
    """HTTP headers for a call to a vendor, with ``traceparent`` when a span is recording."""
    if not trace.get_current_span().is_recording():
        return headers
    sent = dict(headers or {})
    _PROPAGATOR.inject(sent)
    return sent


def incoming(headers: Mapping[str, str]) -> Context:
    """The caller's trace context from request headers (an empty context when none)."""
    return _PROPAGATOR.extract({k: v for k, v in headers.items() if k in CARRIED})


def current_ids() -> tuple[str, str] | None:
    """The current trace and span ids as hex, for log lines; None outside any span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def _extract(carrier: Mapping[str, Any]) -> Context | None:
    found = {k: carrier[k] for k in CARRIED if isinstance(carrier.get(k), str)}
    return _PROPAGATOR.extract(found) if found else None
