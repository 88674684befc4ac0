"""The alert rules and the Grafana dashboard shipped in deploy/ name only real metrics.

A panel or an alert on a metric nobody exports shows nothing and never fires, silently.
Both files are parsed here; every PromQL expression must be well formed (brackets,
braces, quotes balanced; a known aggregation or function before each parenthesis) and
name only metrics the desk can expose, derived from the collectors themselves (a counter
family ``x`` exposes ``x_total``, a histogram ``x_bucket``/``x_count``/``x_sum``).
tests/integration/test_telemetry_metrics.py checks the same names against a real scrape
after a simulated day. ``promtool check rules`` runs too where promtool is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from builders.telemetry import (
    RULES,
    SUFFIXES,
    alert_rules,
    dashboard,
    names_in,
    panel_queries,
)
from orderops.ingest.webhook_metrics import create_webhook_metrics
from orderops.metering.usage_metrics import UsageCollector, create_usage_metrics
from orderops.telemetry.desk_metrics import DeskCollector
from orderops.telemetry.exposition import render
from orderops.telemetry.metrics import create_telemetry_metrics
from orderops.workflow.lag_metrics import LagCollector
from orderops.workflow.processing_metrics import create_processing_metrics

CALL = re.compile(r"\b([a-z_]+)\s*\(")
FUNCTIONS = frozenset(
    {"sum", "max", "min", "avg", "count", "rate", "increase", "irate", "histogram_quantile"}
    | {"by", "without", "label_values", "abs", "clamp_min", "topk"}
)


def exposable() -> frozenset[str]:
    """Every sample name /metrics can show, from the collectors (no database needed)."""
    names: set[str] = set()
    registries = [
        create_telemetry_metrics().registry,
        create_processing_metrics().registry,
        create_usage_metrics().registry,
        create_webhook_metrics().registry,
    ]
    described: list[Collector] = [
        DeskCollector(lambda: None),
        LagCollector(lambda: []),
        UsageCollector(lambda: None),
    ]
    for registry in registries:
        names |= _sample_names(registry.collect())
    for collector in described:
        names |= _sample_names(collector.describe())
    names |= _sample_names_from_text(render([], []).decode())  # the process collectors
    return frozenset(names)


def _sample_names(families: Iterable[Any]) -> set[str]:
    found = set()
    for family in families:
        found |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        found |= {sample.name for sample in family.samples}
    return found


def _sample_names_from_text(text: str) -> set[str]:
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1].isalpha()}


def assert_well_formed(expr: str) -> None:
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    assert unquoted.count('"') % 2 == 0, f"unbalanced quotes: {expr}"
    for opening, closing in ("()", "[]", "{}"):
        depth = 0
        for char in unquoted:
            depth += (char == opening) - (char == closing)
            assert depth >= 0, f"{closing} before its {opening}: {expr}"
        assert depth == 0, f"unbalanced {opening}{closing}: {expr}"
    unknown = set(CALL.findall(unquoted)) - FUNCTIONS
    assert not unknown, f"unknown functions {sorted(unknown)} in {expr}"
    for window in re.findall(r"\[([^\]]*)\]", unquoted):
        assert re.fullmatch(r"\d+[smhd]", window), f"bad range [{window}] in {expr}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_is_well_formed_and_names_exposed_metrics(rule: dict[str, Any]) -> None:
    named = names_in(rule["expr"])

    assert_well_formed(rule["expr"])
    assert named, f"{rule['alert']} names no metric"
    assert named <= exposable(), f"not exposed: {sorted(named - exposable())}"
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert re.fullmatch(r"\d+[smh]", rule["for"])
    assert rule["annotations"]["summary"]
    assert rule["annotations"]["description"]


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in alert_rules()]

    assert len(names) == len(set(names))


@pytest.mark.parametrize(("title", "expr"), panel_queries(), ids=lambda v: v[:40])
def test_every_dashboard_query_is_well_formed_and_names_exposed_metrics(
    title: str, expr: str
) -> None:
    named = names_in(expr)

    assert_well_formed(expr)
    assert named, f"panel {title!r} names no metric"
    assert named <= exposable(), f"{title}: not exposed: {sorted(named - exposable())}"


def test_the_dashboard_is_importable_grafana_json() -> None:
    board = dashboard()
    panels = board["panels"]
    ids = [panel["id"] for panel in panels]
    variables = {v["name"]: v for v in board["templating"]["list"]}

    assert board["uid"]
    assert board["title"] == "OrderOps"
    assert isinstance(board["schemaVersion"], int)
    assert len(ids) == len(set(ids))
    assert variables["datasource"]["type"] == "datasource"
    assert names_in(variables["tenant"]["definition"]) <= exposable()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


def test_the_dashboard_shows_each_area_the_runbook_names() -> None:
    shown = set().union(*(names_in(expr) for _, expr in panel_queries()))

    for family in (
        "orderops_ingest_events_total",
        "orderops_ingest_accept_duration_seconds_bucket",
        "orderops_processing_latency_seconds_bucket",
        "orderops_inbox_pending",
        "orderops_inbox_oldest_pending_age_seconds",
        "orderops_detector_run_duration_seconds_bucket",
        "orderops_cases_opened_total",
        "orderops_cases_resolved_total",
        "orderops_cases_sla_breached",
        "orderops_approvals_waiting",
        "orderops_outbox_messages",
        "orderops_outbox_oldest_due_age_seconds",
        "orderops_outbox_delivery_attempts_total",
        "orderops_connector_circuits_open",
        "orderops_model_request_duration_seconds_bucket",
        "orderops_model_tokens_total",
        "process_cpu_seconds_total",
    ):
        assert family in shown, family


def test_a_misnamed_metric_would_be_caught() -> None:
    assert "orderops_inbox_pending" in exposable()
    assert "orderops_inbox_pendings" not in exposable()
    assert "orderops_cases_opened" not in exposable(), "a counter is exposed as _total"
    with pytest.raises(AssertionError):
        assert_well_formed("sum(rate(orderops_http_requests_total[5m])")
    with pytest.raises(AssertionError):
        assert_well_formed("sum(rat(orderops_http_requests_total[5m]))")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed here")
def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_exposable_reads_the_collectors_not_a_list() -> None:
    registry = CollectorRegistry()
    create_telemetry_metrics(registry)

    assert "orderops_http_request_duration_seconds_bucket" in _sample_names(registry.collect())
