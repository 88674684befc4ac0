"""The alert rules in deploy/prometheus/alerts.yml name only metrics OrderOps exports.

An alert on a metric nobody exports never fires and never says so; renaming a gauge in
``workflow/lag_metrics.py`` without the rules (or the reverse) must fail here. The
exported names are checked against what the collector really yields, not only against
its declared list.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError

from orderops.workflow.lag import TenantLag
from orderops.workflow.lag_metrics import EXPORTED_METRICS, QUERY_UP_METRIC, LagCollector

RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yml"
METRIC_NAME = re.compile(r"\borderops_[a-z0-9_]+")
LAGGING = TenantLag(
    tenant_id="acme",
    pending=3,
    deferred=1,
    failed=2,
    oldest_pending_age_seconds=400.0,
    outbox_due=1,
    oldest_due_age_seconds=None,
)


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text("utf-8"))
    lag = [group for group in document["groups"] if group["name"] == "orderops-lag"]
    return [rule for group in lag for rule in group["rules"]]  # the rest: test_telemetry_rules


def _collected(collector: LagCollector) -> dict[str, dict[str, float]]:
    """metric name -> {tenant label (or "") -> value}, as a scrape would read them."""
    registry = CollectorRegistry()
    registry.register(collector)
    return {
        family.name: {sample.labels.get("tenant", ""): sample.value for sample in family.samples}
        for family in registry.collect()
    }


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_metric_an_alert_names_is_exported(rule: dict[str, Any]) -> None:
    named = set(METRIC_NAME.findall(rule["expr"]))

    assert named, f"{rule['alert']} names no orderops metric"
    assert named <= EXPORTED_METRICS, f"not exported: {sorted(named - EXPORTED_METRICS)}"


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_a_severity_a_duration_and_a_summary(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert re.fullmatch(r"\d+[smh]", rule["for"])
    assert rule["annotations"]["summary"]


def test_the_rules_cover_age_at_two_severities_failures_and_the_outbox() -> None:
    by_metric: dict[str, set[str]] = {}
    for rule in _rules():
        for name in METRIC_NAME.findall(rule["expr"]):
            by_metric.setdefault(name, set()).add(rule["labels"]["severity"])

    assert by_metric["orderops_inbox_oldest_pending_age_seconds"] == {"warning", "critical"}
    assert "orderops_inbox_failed" in by_metric
    assert "orderops_outbox_oldest_due_age_seconds" in by_metric


def test_the_collector_yields_exactly_the_names_it_declares() -> None:
    collected = _collected(LagCollector(lambda: [LAGGING]))

    assert set(collected) == EXPORTED_METRICS
    assert collected[QUERY_UP_METRIC] == {"": 1.0}
    assert collected["orderops_inbox_pending"] == {"acme": 3.0}
    assert collected["orderops_inbox_oldest_pending_age_seconds"] == {"acme": 400.0}
    # nothing due: the age is 0, so the series exists and the alert stays quiet
    assert collected["orderops_outbox_oldest_due_age_seconds"] == {"acme": 0.0}


def test_a_database_failure_leaves_only_the_up_gauge_at_zero() -> None:
    def unreachable() -> list[TenantLag]:
        raise OperationalError("SELECT ...", None, ConnectionError("no route to host"))

    collected = _collected(LagCollector(unreachable))

    assert collected == {QUERY_UP_METRIC: {"": 0.0}}
