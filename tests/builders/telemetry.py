"""Reading what the desk tells an operator: a /metrics scrape as numbers, the JSON log
lines a block of work wrote, and the spans it recorded (an in-memory exporter).

Shared by the telemetry tests (tests/integration/test_telemetry_*.py)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from orderops.telemetry.logs import formatter
from orderops.telemetry.tracing import use_provider

Labels = frozenset[tuple[str, str]]


DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "orderops.json"
METRIC = re.compile(r"\b((?:orderops|process|python)_[a-z0-9_]+)\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text("utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text("utf-8"))
    return loaded


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of the dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def names_in(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    return set(METRIC.findall(expr))


def deployed_names() -> set[str]:
    """Every metric name an alert rule or a dashboard panel of deploy/ reads."""
    exprs = [rule["expr"] for rule in alert_rules()] + [expr for _, expr in panel_queries()]
    return set().union(*(names_in(expr) for expr in exprs))


@dataclass(frozen=True)
class Scrape:
    """One /metrics page: sample name -> {labels -> value}, and the declared families
    with their types (a family without samples yet still names its series)."""

    samples: dict[str, dict[Labels, float]]
    families: frozenset[str] = field(default_factory=frozenset)
    typed: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def value(self, name: str, **labels: str) -> float:
        """The sum of ``name`` over the series matching ``labels`` (0 when none does)."""
        wanted = set(labels.items())
        return sum(v for k, v in self.samples.get(name, {}).items() if wanted <= k)

    def names(self) -> set[str]:
        """Sample names present, and those the declared families will have."""
        declared = {
            name + suffix for name, kind in self.typed for suffix in SUFFIXES.get(kind, ("",))
        }
        return set(self.samples) | declared


def scrape(http: TestClient) -> Scrape:
    answer = http.get("/metrics")
    assert answer.status_code == 200, answer.text
    samples: dict[str, dict[Labels, float]] = {}
    families = set()
    typed = set()
    for family in text_string_to_metric_families(answer.text):
        families.add(family.name)
        typed.add((family.name, family.type))
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return Scrape(samples, frozenset(families), frozenset(typed))


@dataclass
class LogLines:
    """The JSON lines the process logged while capturing, parsed."""

    stream: io.StringIO

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def text(self) -> str:
        return self.stream.getvalue()

    def requests(self) -> list[dict[str, Any]]:
        return [line for line in self.all() if line.get("logger") == "orderops.requests"]


@pytest.fixture
def json_logs() -> Iterator[LogLines]:
    """Every record of the test, rendered by the production JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter(json_lines=True))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield LogLines(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@dataclass
class Spans:
    exporter: InMemorySpanExporter

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())


@pytest.fixture
def spans() -> Iterator[Spans]:
    """Tracing on for the test, into memory (the process's global provider untouched)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with use_provider(provider):
        yield Spans(exporter)
    provider.shutdown()
