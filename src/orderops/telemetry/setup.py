"""Telemetry set up once when a long-running process starts (``serve``, ``worker``).

Not in ``create_app``: tests and embedders build many apps in one process and keep their
own logging; a process that serves or works calls this first, once.
"""

from __future__ import annotations

from typing import Protocol

from orderops.telemetry.logs import configure_logging
from orderops.telemetry.tracing import configure_tracing


class TelemetrySettings(Protocol):
    """The settings read here (``orderops.config.Settings`` has them)."""

    @property
    def log_format(self) -> str: ...
    @property
    def log_level(self) -> str: ...
    @property
    def otlp_endpoint(self) -> str | None: ...
    @property
    def otel_service_name(self) -> str: ...


def configure_process(settings: TelemetrySettings) -> None:
    """JSON (or console) logs for every logger, and traces when an endpoint is set."""
    configure_logging(json_lines=settings.log_format == "json", level=settings.log_level)
    configure_tracing(endpoint=settings.otlp_endpoint, service_name=settings.otel_service_name)
