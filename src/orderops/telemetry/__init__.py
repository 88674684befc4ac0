"""Metrics, structured logs and traces: what an operator sees of a running desk.

The lowest layer of the package: it imports none of the desk's modules, so every layer
(ingest, workflow, writeback, the API) may record into it. Three modules:
``metrics`` (this process's counters and histograms), ``logs`` (JSON logs through
structlog) and ``tracing`` (OpenTelemetry, a no-op until an OTLP endpoint is set);
``requests`` is the ASGI middleware that ties the three to each HTTP request.
"""
