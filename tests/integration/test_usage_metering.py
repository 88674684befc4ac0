"""Usage metering through the front door: what a tenant did is counted once, per meter,
in the transaction that stored it; another tenant never sees it; quotas warn, then refuse
ingest (429, nothing stored) until the month resets on the app's clock.

Everything here goes the way a retailer's traffic does: signed webhooks and API events in,
the worker opening a case, an approved writeback delivered to the Zendesk sandbox, a
message approved and sent, evidence uploaded, a recommendation drafted by a local model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from builders.access import Person, client, person
from builders.database_roles import owner_sessions
from builders.events import order_placed, payment
from builders.llm_stub import llm_stub
from builders.policies import DECLINES_AT_ONCE, store_detectors
from builders.webhooks import post, stripe_event
from builders.worker import work
from builders.writeback import Sandboxes, drain, fast_runtime, served_sandboxes
from orderops.api.usage_meter import HEADER, ApiCallMeter
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.usage import Meter, Quota
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.metering.usage_metrics import REFUSALS_METRIC, USAGE_METRICS, WARNINGS_METRIC
from orderops.metering.usage_report import set_quota
from orderops.recommend.llm import LlmSettings
from orderops.sandbox import run_sandbox
from orderops.storage.tables import (
    AuditRecord,
    DeadLetter,
    EvidenceBlob,
    InboxEvent,
    Recommendation,
    UsageCounter,
    WebhookDelivery,
)
from orderops.storage.uow import UnitOfWork

SECRET = "acme-signing-secret-1-0123456789abcdef"
PRICES = {"good": {"prompt": 2.5, "completion": 10.0}}
"""US dollars per million tokens: the stub's 120 + 40 tokens cost 120*2.5 + 40*10 = 700
micro-dollars."""
EVIDENCE = b"%PDF-1.4 a carrier's proof of delivery, 64 bytes of it, exactly.."


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


@pytest.fixture
def model_url() -> Iterator[str]:
    stub, _ = llm_stub()
    with run_sandbox(stub) as url:
        yield url


@pytest.fixture
def acme_service(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.SERVICE, name="acme-feed")


@pytest.fixture
def people(app: App, clock: FixedClock) -> dict[str, Person]:
    return {
        "agent": person(app, clock, tenant="acme", role=Role.AGENT, name="ann-agent"),
        "approver": person(app, clock, tenant="acme", role=Role.APPROVER, name="abe-approver"),
        "admin": person(app, clock, tenant="acme", role=Role.ADMIN, name="ada-usage-admin"),
        "globex_feed": person(app, clock, tenant="globex", role=Role.SERVICE, name="gx-feed"),
        "globex_admin": person(app, clock, tenant="globex", role=Role.ADMIN, name="gx-admin"),
    }


def meter_of(http: TestClient) -> ApiCallMeter:
    meter: ApiCallMeter = http.app.state.usage_meter  # type: ignore[attr-defined]
    return meter


def stripe_token(app: App, tenant: str = "acme") -> str:
    change = connect_source(
        app.sessions,
        tenant_id=tenant,
        source=WebhookSource.STRIPE,
        box=SecretBox(app.settings.secret_key),
        clock=app.clock,
        actor="test",
        secret=SECRET,
    )
    return change.connection.endpoint_token


def by_meter(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for row in rows:
        found.setdefault(row["meter"], {})[row["dimension"]] = row["quantity"]
    return found


def rows_of(app: App, model: Any, tenant: str = "acme") -> list[Any]:
    with owner_sessions(app)() as session:
        return list(session.scalars(select(model).where(model.tenant_id == tenant)))


def test_each_thing_a_tenant_does_is_counted_once_on_its_meter(
    app: App,
    clock: FixedClock,
    http: TestClient,
    sandboxes: Sandboxes,
    model_url: str,
    acme_service: Person,
    people: dict[str, Person],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDEROPS_USAGE_MODEL_PRICES", json.dumps(PRICES))
    store_detectors(app, clock, DECLINES_AT_ONCE)
    agent, approver, admin = people["agent"], people["approver"], people["admin"]
    placed = http.post(
        "/v1/events",
        json=order_placed("o-77", at=clock.now() - timedelta(hours=2), total_minor=2000),
        headers=acme_service.headers,
    )
    assert placed.status_code == 202, placed.text
    token = stripe_token(app)
    failure = stripe_event(
        "payment_intent.payment_failed", created=clock.now() - timedelta(hours=1), order_ref="o-77"
    )
    first = post(http, failure, token=token, secret=SECRET, now=clock.now())
    again = post(http, failure, token=token, secret=SECRET, now=clock.now())
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["outcome"] == "duplicate"

    (opened,) = [c for c in work(app) if c.change == "opened"]
    case_id = opened.case_id
    http.app.state.llm_settings = LlmSettings(  # type: ignore[attr-defined]
        enabled=True, base_url=f"{model_url}/v1", model="good"
    )
    recommended = http.post(f"/v1/cases/{case_id}/recommendations", headers=agent.headers)
    assert recommended.status_code == 201, recommended.text
    handoff = http.post(
        f"/v1/cases/{case_id}/actions",
        json={"kind": "support_handoff", "params": {"summary": "card keeps failing"}},
        headers=agent.headers,
    )
    assert handoff.status_code == 201, handoff.text
    assert handoff.json()["status"] == "approved"
    drain(app, fast_runtime(sandboxes.settings(), clock), clock)
    uploaded = http.post(
        f"/v1/cases/{case_id}/evidence?filename=pod.pdf",
        content=EVIDENCE,
        headers={**agent.headers, "content-type": "application/pdf"},
    )
    assert uploaded.status_code == 201, uploaded.text
    drafted = http.post(
        f"/v1/cases/{case_id}/communications",
        json={"body": "Your card was declined; please try another.", "channel": "email"},
        headers=agent.headers,
    )
    message = drafted.json()
    approved = http.post(
        f"/v1/communications/{message['id']}/approve",
        json={"version": message["version"]},
        headers=approver.headers,
    )
    sent = http.post(
        f"/v1/communications/{message['id']}/send",
        json={"version": approved.json()["version"]},
        headers=agent.headers,
    )
    assert sent.status_code == 200, sent.text
    globex = http.post(
        "/v1/events",
        json=order_placed("gx-1", at=clock.now() - timedelta(hours=1)),
        headers=people["globex_feed"].headers,
    )
    assert globex.status_code == 202
    meter_of(http).flush()  # the API calls so far, as the background flush would

    answer = http.get("/v1/usage", headers=admin.headers)

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert {row["tenant"] for row in report["rows"]} == {"acme"}
    assert {row["day"] for row in report["rows"]} == {"2026-11-20"}
    snapshots = sum(b.size_bytes for b in rows_of(app, EvidenceBlob) if b.kind == "snapshot")
    assert snapshots > 0  # the handoff's approval snapshotted the facts it decided on
    assert by_meter(report["rows"]) == {
        "events": {"api": 1, "webhook:stripe": first.json()["accepted"]},
        "api_calls": {"events": 1, "cases": 4, "communications": 2},
        "cases": {"payment_failed": 1},
        "writebacks": {"zendesk": 1},
        "messages": {"email": 1},
        "model_tokens": {"good:prompt": 120, "good:completion": 40},
        "model_cost": {"good": 700},
        "evidence_bytes": {"upload": len(EVIDENCE), "snapshot": snapshots},
    }
    units = {t["meter"]: t["unit"] for t in report["totals"]}
    assert units["model_cost"] == "usd_micro"
    assert units["evidence_bytes"] == "byte"
    theirs = http.get("/v1/usage", headers=people["globex_admin"].headers).json()
    assert by_meter(theirs["rows"]) == {"events": {"api": 1}, "api_calls": {"events": 1}}
    assert {row["tenant"] for row in theirs["rows"]} == {"globex"}


def test_api_calls_reach_the_counters_at_each_flush_and_at_shutdown(
    app: App, people: dict[str, Person]
) -> None:
    def api_calls() -> dict[str, int]:
        with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
            rows = uow.session.scalars(
                select(UsageCounter).where(UsageCounter.meter == "api_calls")
            )
            return {row.dimension: row.quantity for row in rows}

    with client(app) as http:
        for _ in range(3):
            assert http.get("/v1/cases", headers=people["agent"].headers).status_code == 200
        counted_in_memory = api_calls()
        meter_of(http).flush()
        flushed = api_calls()
        http.get("/v1/queues", headers=people["agent"].headers)
    assert counted_in_memory == {}
    assert flushed == {"cases": 3}
    assert api_calls() == {"cases": 3, "queues": 1}  # the server's shutdown added the rest


def test_the_csv_export_has_one_row_per_counter_with_its_unit(
    app: App, clock: FixedClock, http: TestClient, acme_service: Person, people: dict[str, Person]
) -> None:
    today = clock.now()
    for hours in (30, 2):  # yesterday and today
        clock.set(today - timedelta(hours=hours))
        accepted = http.post(
            "/v1/events",
            json=order_placed(f"o-{hours}", at=clock.now()),
            headers=acme_service.headers,
        )
        assert accepted.status_code == 202
    clock.set(today)
    admin = people["admin"].headers

    by_parameter = http.get("/v1/usage?from=2026-11-18&to=2026-11-20&format=csv", headers=admin)
    by_accept = http.get(
        "/v1/usage?from=2026-11-18&to=2026-11-20", headers={**admin, "Accept": "text/csv"}
    )
    one_day = http.get("/v1/usage?from=2026-11-20&to=2026-11-20&format=csv", headers=admin)

    assert by_parameter.headers["content-type"].startswith("text/csv")
    assert (
        'filename="usage-acme-2026-11-18-2026-11-20.csv"'
        in by_parameter.headers["content-disposition"]
    )
    assert by_accept.text == by_parameter.text
    assert by_parameter.text.splitlines() == [
        "tenant,environment,day,meter,dimension,quantity,unit",
        "acme,live,2026-11-19,events,api,1,event",
        "acme,live,2026-11-20,events,api,1,event",
    ]
    assert one_day.text.splitlines()[1:] == ["acme,live,2026-11-20,events,api,1,event"]
    backwards = http.get("/v1/usage?from=2026-11-20&to=2026-11-01", headers=admin)
    assert backwards.status_code == 422
    assert "starts (2026-11-20) after it ends" in backwards.json()["detail"]


def test_usage_is_read_by_admins_and_finance_only(
    app: App, clock: FixedClock, http: TestClient, people: dict[str, Person]
) -> None:
    readers = {
        "agent": people["agent"],
        "approver": people["approver"],
        "finance": person(app, clock, tenant="acme", role=Role.FINANCE_APPROVER, name="fin"),
        "admin": people["admin"],
    }
    answers = {
        name: http.get("/v1/usage", headers=who.headers).status_code
        for name, who in readers.items()
    }
    assert answers == {"agent": 403, "approver": 403, "finance": 200, "admin": 200}
    assert http.get("/v1/usage").status_code == 401


def test_a_soft_quota_warns_once_and_a_hard_one_refuses_ingest_until_the_month_resets(
    app: App,
    clock: FixedClock,
    http: TestClient,
    acme_service: Person,
    people: dict[str, Person],
) -> None:
    set_quota(
        app.sessions,
        tenant_id="acme",
        quota=Quota(Meter.EVENTS, soft=2, hard=3),
        actor="test",
        clock=clock,
    )
    warned = USAGE_METRICS.count_of(WARNINGS_METRIC, Meter.EVENTS)
    refused = USAGE_METRICS.count_of(REFUSALS_METRIC, Meter.EVENTS)
    at = clock.now() - timedelta(hours=1)
    statuses = [
        http.post(
            "/v1/events", json=order_placed(f"o-{n}", at=at), headers=acme_service.headers
        ).status_code
        for n in range(3)
    ]
    assert statuses == [202, 202, 202]  # the third found 2 used: past soft, short of hard

    over = http.post("/v1/events", json=order_placed("o-4", at=at), headers=acme_service.headers)
    token = stripe_token(app)
    delivery = stripe_event("payment_intent.payment_failed", created=at, order_ref="o-1")
    refused_webhook = post(http, delivery, token=token, secret=SECRET, now=clock.now())

    assert over.status_code == 429
    assert over.headers["content-type"] == "application/problem+json"
    problem = over.json()
    assert problem["type"].endswith("/quota-exceeded")
    assert "monthly events quota" in problem["detail"]
    assert "resets at 2026-12-01T00:00:00Z" in problem["detail"]
    assert (problem["meter"], problem["used"], problem["hard_limit"]) == ("events", 3, 3)
    assert over.headers["retry-after"] == str(int(timedelta(days=10, hours=12).total_seconds()))
    assert refused_webhook.status_code == 429
    assert len(rows_of(app, InboxEvent)) == 3
    assert rows_of(app, WebhookDelivery) == []
    assert rows_of(app, DeadLetter) == []
    warnings = [r for r in rows_of(app, AuditRecord) if r.action == "usage.quota_warning"]
    assert [(w.entity_id, w.data["used"], w.data["soft_limit"]) for w in warnings] == [
        ("events", 2, 2)
    ]
    assert USAGE_METRICS.count_of(WARNINGS_METRIC, Meter.EVENTS) == warned + 1
    assert USAGE_METRICS.count_of(REFUSALS_METRIC, Meter.EVENTS) == refused + 2

    meter_of(http).flush()
    read = http.get("/v1/cases", headers=people["agent"].headers)
    assert read.headers[HEADER] == 'events; used=3; soft=2; hard=3; resets="2026-12-01T00:00:00Z"'
    assert HEADER not in http.get("/v1/cases", headers=people["globex_admin"].headers).headers

    clock.set(datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC))
    next_month = http.post(
        "/v1/events", json=order_placed("o-5", at=clock.now()), headers=acme_service.headers
    )
    assert next_month.status_code == 202
    assert len(rows_of(app, InboxEvent)) == 4


def test_a_hard_model_quota_drafts_from_templates_without_calling_the_model(
    app: App,
    clock: FixedClock,
    http: TestClient,
    acme_service: Person,
    people: dict[str, Person],
) -> None:
    stub, seen = llm_stub()
    store_detectors(app, clock, DECLINES_AT_ONCE)
    at = clock.now() - timedelta(hours=2)
    for item in (
        order_placed("o-9", at=at, total_minor=2000),
        payment("o-9", status="failed", at=at + timedelta(minutes=5), failure_code="do_not_honor"),
    ):
        assert http.post("/v1/events", json=item, headers=acme_service.headers).status_code == 202
    (opened,) = [c for c in work(app) if c.change == "opened"]
    agent = people["agent"].headers
    with run_sandbox(stub) as url:
        http.app.state.llm_settings = LlmSettings(  # type: ignore[attr-defined]
            enabled=True, base_url=f"{url}/v1", model="good"
        )
        with_model = http.post(f"/v1/cases/{opened.case_id}/recommendations", headers=agent)
        set_quota(
            app.sessions,
            tenant_id="acme",
            quota=Quota(Meter.MODEL_TOKENS, hard=100),
            actor="test",
            clock=clock,
        )
        without = http.post(f"/v1/cases/{opened.case_id}/recommendations", headers=agent)

    assert {d["source"] for d in with_model.json()["drafts"]} == {"template", "model"}
    assert without.status_code == 201
    assert {d["source"] for d in without.json()["drafts"]} == {"template"}
    assert len(seen) == 1  # the model was asked once, before the quota
    latest = max(rows_of(app, Recommendation), key=lambda r: r.created_at.isoformat() + r.id)
    assert latest.id == without.json()["id"]
    assert "model quota reached" in latest.body["model_error"]
    tokens = by_meter(http.get("/v1/usage", headers=people["admin"].headers).json()["rows"])
    assert tokens["model_tokens"] == {"good:prompt": 120, "good:completion": 40}


def test_metrics_show_each_tenants_month_and_quota_level(
    app: App, clock: FixedClock, http: TestClient, acme_service: Person
) -> None:
    set_quota(
        app.sessions, tenant_id="acme", quota=Quota(Meter.EVENTS, soft=1), actor="t", clock=clock
    )
    at = clock.now() - timedelta(hours=1)
    for n in range(2):
        http.post("/v1/events", json=order_placed(f"o-{n}", at=at), headers=acme_service.headers)

    page = http.get("/metrics").text

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }
    assert samples[("orderops_usage_month_to_date", (("meter", "events"), ("tenant", "acme")))] == 2
    assert samples[("orderops_usage_quota_level", (("meter", "events"), ("tenant", "acme")))] == 1
    assert samples[("orderops_usage_tenants_shown", ())] == 1
    assert not any(
        name == "orderops_usage_month_to_date" and ("tenant", "globex") in labels
        for name, labels in samples
    )


def test_inbox_rows_and_event_counts_agree_after_a_batch_with_duplicates_and_refusals(
    app: App, clock: FixedClock, http: TestClient, acme_service: Person, people: dict[str, Person]
) -> None:
    at = clock.now() - timedelta(hours=1)
    kept = order_placed("o-1", at=at)
    batch = [kept, kept, order_placed("o-2", at=at), {"id": "not-an-event"}]
    answer = http.post("/v1/events", json=batch, headers=acme_service.headers)
    again = http.post("/v1/events", json=[kept], headers=acme_service.headers)

    assert answer.status_code == 207
    assert again.status_code == 200
    with owner_sessions(app)() as session:
        stored = session.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.tenant_id == "acme")
        )
    counted = by_meter(http.get("/v1/usage", headers=people["admin"].headers).json()["rows"])
    assert counted["events"] == {"api": stored} == {"api": 2}
