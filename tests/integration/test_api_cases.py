"""GET /v1/cases and friends: listing, filters, detail, tenant isolation, health, the schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from builders.access import key_for
from builders.events import order_placed, payment
from builders.policies import DECLINES_AT_ONCE, store_detectors
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.migrate import expected_heads
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@dataclass(frozen=True)
class Desk:
    """Three acme cases opened an hour apart, ids named after what each one is."""

    failed_open: str
    """o-1: payment failed, still open (opened first)."""
    failed_resolved: str
    """o-2: payment failed then captured, resolved (opened second)."""
    late_open: str
    """o-3: paid, promise passed, opened by the sweep (opened last)."""


def ingest(app: App, clock: FixedClock, items: list[dict[str, Any]]) -> list[str]:
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    assert report.rejected == []
    return [c.case_id for c in report.changes if c.change == "opened"]


@pytest.fixture
def desk(app: App, clock: FixedClock) -> Desk:
    # Declines open at once; o-3, paid and never shipped, is only late here, not also stuck.
    store_detectors(app, clock, {**DECLINES_AT_ONCE, "stuck_order": {"enabled": False}})
    placed = clock.now() - timedelta(days=10)
    far = clock.now() + timedelta(days=30)
    (failed_open,) = ingest(
        app,
        clock,
        [
            order_placed("o-1", at=placed, promised_by=far),
            payment("o-1", status="failed", at=placed + timedelta(hours=1), payment_ref="pi_1"),
        ],
    )
    clock.advance(timedelta(hours=1))
    (failed_resolved,) = ingest(
        app,
        clock,
        [
            order_placed("o-2", at=placed, promised_by=far),
            payment("o-2", status="failed", at=placed + timedelta(hours=1), payment_ref="pi_2"),
        ],
    )
    clock.advance(timedelta(minutes=30))
    ingest(
        app,
        clock,
        [payment("o-2", status="captured", at=placed + timedelta(hours=2), payment_ref="pi_2b")],
    )
    clock.advance(timedelta(minutes=30))
    ingest(
        app,
        clock,
        [
            order_placed("o-3", at=placed, promised_by=placed + timedelta(days=3)),
            payment("o-3", status="captured", at=placed + timedelta(hours=1), payment_ref="pi_3"),
        ],
    )
    (late_open,) = [
        c.case_id for c in sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)
    ]
    return Desk(failed_open=failed_open, failed_resolved=failed_resolved, late_open=late_open)


@pytest.fixture
def client(app: App, service_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(app), headers=bearer(service_key)) as test_client:
        yield test_client


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_cases_are_listed_newest_first_with_paging(client: TestClient, desk: Desk) -> None:
    everything = client.get("/v1/cases", params={"count": "true"})
    first_page = client.get("/v1/cases", params={"limit": 2})
    last_page = client.get("/v1/cases", params={"limit": 2, "offset": 2})

    assert ids(everything) == [desk.late_open, desk.failed_resolved, desk.failed_open]
    assert {k: everything.json()[k] for k in ("total", "limit", "offset", "next_offset")} == {
        "total": 3,
        "limit": 50,
        "offset": 0,
        "next_offset": None,
    }
    assert ids(first_page) == [desk.late_open, desk.failed_resolved]
    assert (first_page.json()["total"], first_page.json()["next_offset"]) == (None, 2)
    assert ids(last_page) == [desk.failed_open]
    assert last_page.json()["next_offset"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "payment_failed"}, ["failed_resolved", "failed_open"]),
        ({"type": "shipment_late"}, ["late_open"]),
        ({"status": "resolved"}, ["failed_resolved"]),
        ({"status": "new"}, ["late_open", "failed_open"]),
        ({"open": "true"}, ["late_open", "failed_open"]),
        ({"order_ref": "o-2"}, ["failed_resolved"]),
        ({"order_ref": "o-404"}, []),
        ({"type": "payment_failed", "open": "true"}, ["failed_open"]),
    ],
)
def test_cases_can_be_filtered(
    client: TestClient, desk: Desk, params: dict[str, str], expected: list[str]
) -> None:
    response = client.get("/v1/cases", params={**params, "count": "true"})

    assert ids(response) == [getattr(desk, name) for name in expected]
    assert response.json()["total"] == len(expected)


@pytest.mark.parametrize(
    ("params", "location"),
    [
        ({"limit": "501"}, "query.limit"),
        ({"limit": "0"}, "query.limit"),
        ({"offset": "-1"}, "query.offset"),
        ({"status": "lost"}, "query.status.0"),
        ({"open": "maybe"}, "query.open"),
    ],
)
def test_out_of_range_queries_are_a_422_problem(
    client: TestClient, params: dict[str, str], location: str
) -> None:
    response = client.get("/v1/cases", params=params)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["title"]) == (422, "Invalid request")
    assert [e["location"] for e in body["errors"]] == [location]


def test_one_case_has_its_facts_and_a_timeline_that_starts_with_opened(
    client: TestClient, desk: Desk
) -> None:
    response = client.get(f"/v1/cases/{desk.failed_resolved}")

    assert response.status_code == 200
    case = response.json()
    assert (case["id"], case["order_ref"], case["status"]) == (
        desk.failed_resolved,
        "o-2",
        "resolved",
    )
    assert case["facts"]["payment_ref"] == "pi_2"
    assert "payment" in case["close_reason"]
    kinds = [entry["kind"] for entry in case["timeline"]]
    assert "opened" in kinds
    assert kinds.index("opened") < kinds.index("resolved")
    opened = case["timeline"][kinds.index("opened")]
    assert opened["actor"] == "detector:payment_failed"


def test_an_unknown_case_is_a_404_problem(client: TestClient, desk: Desk) -> None:
    response = client.get("/v1/cases/no-such-case")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_another_tenant_never_sees_the_case(
    app: App, clock: FixedClock, client: TestClient, desk: Desk
) -> None:
    globex = key_for(app, tenant_id="globex", name="g", role=Role.VIEWER, clock=clock)

    with TestClient(create_app(app), headers=bearer(globex.secret)) as other:
        one = other.get(f"/v1/cases/{desk.failed_open}")
        listed = other.get("/v1/cases", params={"count": "true"})

    assert client.get(f"/v1/cases/{desk.failed_open}").status_code == 200
    assert one.status_code == 404
    assert "o-1" not in one.text
    assert "facts" not in one.json()
    assert ids(listed) == []
    assert listed.json()["total"] == 0


def test_reading_cases_needs_a_key(app: App, desk: Desk) -> None:
    with TestClient(create_app(app)) as anonymous:
        response = anonymous.get("/v1/cases")

    assert response.status_code == 401


def test_health_and_readiness(app: App) -> None:
    with TestClient(create_app(app)) as anonymous:
        health = anonymous.get("/healthz")
        ready = anonymous.get("/readyz")

    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "schema_revision": ",".join(sorted(expected_heads())),
    }


def test_the_openapi_document_lists_the_public_routes(app: App) -> None:
    with TestClient(create_app(app)) as anonymous:
        document = anonymous.get("/openapi.json")

    assert document.status_code == 200
    paths = document.json()["paths"]
    assert "post" in paths["/v1/events"]
    assert "get" in paths["/v1/cases"]
    assert "get" in paths["/v1/cases/{case_id}"]
