"""/metrics after a simulated day: every metric the runbook names is there, and moving.

A day of a simulated store reaches the desk through ``POST /v1/events`` in two halves;
the worker processes each half and runs its sweeps. Two scrapes (before and after) must
differ where the day did something: events accepted per source, the accept and
processing latency histograms, detector runs, HTTP requests, cases opened, and the
desk's gauges (open cases, approvals waiting) read from the database at the scrape. The
model's figures move with one draft from a local model server. The alert rules and the
dashboard name only what this page shows (tests/unit/test_telemetry_rules.py reads the
list kept here).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.access import Person, late_case
from builders.llm_stub import llm_stub
from builders.telemetry import Scrape, deployed_names, scrape
from builders.worker import work
from conftest import T0
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.decide.actions import propose
from orderops.demo import DEMO_RATES
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.clock import FixedClock
from orderops.evidence.service import default_store
from orderops.recommend.llm import LlmClient, LlmSettings, build_messages
from orderops.sandbox.runner import run_sandbox
from orderops.sim import SimConfig, simulate
from orderops.storage.tables import Action, Case
from orderops.storage.uow import UnitOfWork
from orderops.telemetry.metrics import METRICS
from orderops.workflow.worker import run_once

SIM = SimConfig(
    seed=11,
    start=T0 - timedelta(days=1),
    days=1,
    history_days=1,
    orders_per_day=40,
    tenant="acme",
    rates=DEMO_RATES,
)

EXPOSED = frozenset(
    {
        # ingest and processing (telemetry/metrics.py)
        "orderops_ingest_events_total",
        "orderops_ingest_accept_duration_seconds_bucket",
        "orderops_processing_latency_seconds_bucket",
        "orderops_detector_run_duration_seconds_bucket",
        "orderops_http_requests_total",
        "orderops_http_request_duration_seconds_bucket",
        # the inbox and the outbox (workflow/lag_metrics.py, telemetry/desk_metrics.py)
        "orderops_inbox_pending",
        "orderops_inbox_oldest_pending_age_seconds",
        "orderops_inbox_failed",
        "orderops_outbox_due",
        "orderops_outbox_oldest_due_age_seconds",
        "orderops_outbox_messages",
        "orderops_outbox_most_attempts",
        # cases, SLA, approvals (telemetry/desk_metrics.py)
        "orderops_cases_open",
        "orderops_cases_opened_total",
        "orderops_cases_resolved_total",
        "orderops_cases_sla_breached",
        "orderops_approvals_waiting",
        "orderops_approvals_oldest_age_seconds",
        "orderops_desk_query_up",
        "orderops_lag_query_up",
        # the process (prometheus_client's default collectors)
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "python_gc_collections_total",
    }
)
"""Samples present after the day, whatever else happened."""

DECLARED = frozenset(
    {
        "orderops_outbox_delivery_attempts",
        "orderops_outbox_delivery_duration_seconds",
        "orderops_connector_circuits_open",
        "orderops_model_request_duration_seconds",
        "orderops_model_tokens",
        "orderops_webhook_rejected",
    }
)
"""Families on the page from the start, with series once a delivery, a breaker, a model
call or a refused webhook happens in this process (test_telemetry_trace.py and the model
test below make them move)."""


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as test_client:
        yield test_client


def post_half(client: TestClient, key: str, events: list[dict[str, object]]) -> None:
    for start in range(0, len(events), 200):
        answer = client.post(
            "/v1/events",
            json=events[start : start + 200],
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 202, answer.text


def open_cases(app: App) -> int:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(Case)
                .where(Case.status.not_in([str(s) for s in CLOSED_STATUSES]))
            )
            or 0
        )


def test_after_a_simulated_day_every_metric_is_there_and_the_day_moved_them(
    app: App, clock: FixedClock, client: TestClient, service_key: str, agent: Person
) -> None:
    events = simulate(SIM).events
    half = len(events) // 2
    before = scrape(client)

    post_half(client, service_key, events[:half])
    work(app)
    run_once(app)
    middle = scrape(client)
    clock.advance(timedelta(hours=6))
    post_half(client, service_key, events[half:])
    work(app)
    run_once(app)
    waiting = _one_approval(app, clock, agent)
    after = scrape(client)

    assert after.names() >= EXPOSED, sorted(EXPOSED - after.names())
    assert deployed_names() <= after.names(), sorted(deployed_names() - after.names())
    assert after.families >= DECLARED, sorted(DECLARED - after.families)
    for earlier, later in ((before, middle), (middle, after)):
        assert _moved(
            earlier, later, "orderops_ingest_events_total", source="api", outcome="accepted"
        )
        assert _moved(earlier, later, "orderops_ingest_accept_duration_seconds_count", source="api")
        assert _moved(earlier, later, "orderops_processing_latency_seconds_count")
        assert _moved(earlier, later, "orderops_detector_run_duration_seconds_count")
        assert _moved(
            earlier, later, "orderops_http_requests_total", route="/v1/events", status="202"
        )
    assert after.value("orderops_ingest_events_total", source="api") == len(events) + before.value(
        "orderops_ingest_events_total", source="api"
    )
    assert after.value("orderops_cases_opened_total", tenant="acme") > 0
    assert after.value("orderops_cases_open", tenant="acme") == open_cases(app)
    assert after.value("orderops_approvals_waiting", tenant="acme") == waiting
    assert after.value("orderops_desk_query_up") == 1
    assert after.value("orderops_inbox_pending", tenant="acme") == 0
    assert after.value("process_cpu_seconds_total") >= before.value("process_cpu_seconds_total")


def _one_approval(app: App, clock: FixedClock, agent: Person) -> int:
    """A cancellation, which an approver must decide: the actions now waiting."""
    action = propose(
        app.sessions,
        tenant_id="acme",
        case_id=late_case(app, clock),
        kind="cancel_order",
        params={"reason": "customer"},
        principal=agent.principal,
        clock=clock,
        evidence=default_store(app.settings),
    )
    assert action.status == "awaiting_approval"
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return int(
            uow.session.scalar(
                select(func.count()).select_from(Action).where(Action.status == "awaiting_approval")
            )
            or 0
        )


def _moved(earlier: Scrape, later: Scrape, name: str, **labels: str) -> bool:
    return later.value(name, **labels) > earlier.value(name, **labels)


def test_a_model_call_moves_its_latency_and_token_counts() -> None:
    stub, _ = llm_stub()
    tokens_before = (
        METRICS.registry.get_sample_value("orderops_model_tokens_total", {"kind": "prompt"}) or 0.0
    )
    calls_before = (
        METRICS.registry.get_sample_value(
            "orderops_model_request_duration_seconds_count", {"outcome": "ok"}
        )
        or 0.0
    )
    with run_sandbox(stub) as url:
        client = LlmClient(LlmSettings(enabled=True, base_url=f"{url}/v1", model="good"))
        try:
            client.draft(build_messages({"order": "#1001", "first_name": "Kim"}, None, "en"))
        finally:
            client.close()

    assert (
        METRICS.registry.get_sample_value("orderops_model_tokens_total", {"kind": "prompt"})
        == tokens_before + 120
    )
    assert (
        METRICS.registry.get_sample_value(
            "orderops_model_request_duration_seconds_count", {"outcome": "ok"}
        )
        == calls_before + 1
    )
