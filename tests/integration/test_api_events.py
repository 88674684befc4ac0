"""POST /v1/events against a real database: what is stored, answered and dead-lettered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.access import key_for
from builders.database_roles import owner_sessions
from builders.events import order_placed, payment
from builders.policies import DECLINES_AT_ONCE, store_detectors
from builders.worker import work
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import Case, DeadLetter, InboxEvent
from orderops.storage.uow import UnitOfWork

PROBLEM_JSON = "application/problem+json"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def client(app: App, service_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(app), headers=bearer(service_key)) as test_client:
        yield test_client


def post_json(client: TestClient, body: Any, **headers: str) -> Any:
    return client.post("/v1/events", content=json.dumps(body), headers=headers or None)


def dead_letters(app: App, tenant_id: str = "acme") -> list[DeadLetter]:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        letters = list(uow.dead_letters.list())
        uow.session.expunge_all()
        return letters


def inbox_count(app: App, tenant_id: str) -> int:
    with owner_sessions(app)() as session:
        count = session.scalar(
            select(func.count()).select_from(InboxEvent).where(InboxEvent.tenant_id == tenant_id)
        )
        return int(count or 0)


def cases_of(app: App, tenant_id: str = "acme") -> list[Case]:
    with owner_sessions(app)() as session:
        rows = list(session.scalars(select(Case).where(Case.tenant_id == tenant_id)))
        session.expunge_all()
        return rows


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    return body


# --- single events, duplicates ---------------------------------------------------------------


def test_a_single_event_is_accepted_and_a_payment_failure_opens_a_case(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    store_detectors(app, clock, DECLINES_AT_ONCE)
    placed = post_json(client, order_placed("o-1", at=clock.now() - timedelta(hours=2)))
    failed = post_json(
        client,
        payment(
            "o-1",
            status="failed",
            at=clock.now() - timedelta(hours=1),
            failure_code="card_declined",
        ),
    )

    assert placed.status_code == 202
    assert placed.json()["accepted"] == 1
    assert failed.status_code == 202
    body = failed.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (1, 0, 0)
    assert cases_of(app) == []  # the answer came before any processing

    changes = work(app)

    assert [(c.change, c.exception_type, c.order_ref) for c in changes] == [
        ("opened", "payment_failed", "o-1")
    ]
    assert "card_declined" in changes[0].summary
    assert [c.id for c in cases_of(app)] == [changes[0].case_id]


def test_the_same_event_again_is_a_duplicate_with_no_second_effect(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    store_detectors(app, clock, DECLINES_AT_ONCE)
    post_json(client, order_placed("o-1", at=clock.now() - timedelta(hours=2)))
    failure = payment("o-1", status="failed", at=clock.now() - timedelta(hours=1))
    first = post_json(client, failure)
    work(app)
    case_before = cases_of(app)[0]

    again = post_json(client, failure)

    assert first.status_code == 202
    assert again.status_code == 200
    body = again.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (0, 1, 0)
    assert work(app) == []
    assert body["results"][0]["outcome"] == "duplicate"
    assert body["results"][0]["inbox_id"] == first.json()["results"][0]["inbox_id"]
    (case_after,) = cases_of(app)
    assert case_after.id == case_before.id
    assert case_after.occurrences == case_before.occurrences == 1
    assert inbox_count(app, "acme") == 2


# --- batches ---------------------------------------------------------------------------------


def test_a_batch_of_good_events_is_accepted_whole(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    at = clock.now() - timedelta(hours=3)
    batch = [order_placed(f"o-{i}", at=at) for i in range(3)]

    response = post_json(client, batch)

    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 0, 0)
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert [r["event_id"] for r in body["results"]] == [e["id"] for e in batch]
    assert inbox_count(app, "acme") == 3


def test_a_batch_with_one_invalid_event_stores_the_rest_and_dead_letters_it(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    at = clock.now() - timedelta(hours=3)
    bad = order_placed("o-bad", at=at)
    bad["data"]["currency"] = "dollars"
    batch = [order_placed("o-1", at=at), bad, order_placed("o-2", at=at)]

    response = post_json(client, batch)

    assert response.status_code == 207
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 1)
    outcomes = [(r["index"], r["outcome"]) for r in body["results"]]
    assert outcomes == [(0, "accepted"), (1, "rejected"), (2, "accepted")]
    rejected = body["results"][1]
    assert "currency" in rejected["reason"]
    assert rejected["inbox_id"] is None
    (letter,) = dead_letters(app)
    assert letter.id == rejected["dead_letter_id"]
    assert json.loads(letter.body)["id"] == bad["id"]
    assert inbox_count(app, "acme") == 2


def test_a_batch_where_every_event_is_invalid_is_unprocessable(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    batch = [{"id": "x-1", "source": "test://shop"}, {"id": "x-2", "type": "order.placed"}]

    response = post_json(client, batch)

    body = assert_problem(response, 422)
    assert [r["outcome"] for r in body["results"]] == ["rejected", "rejected"]
    assert {r["dead_letter_id"] for r in body["results"]} == {d.id for d in dead_letters(app)}
    assert inbox_count(app, "acme") == 0


# --- bodies that cannot be read --------------------------------------------------------------


def test_malformed_json_is_a_400_problem_and_its_exact_body_is_dead_lettered(
    client: TestClient, app: App
) -> None:
    raw = b'{"id": "evt-1", "type": "order.placed", "data": {'

    response = client.post("/v1/events", content=raw, headers={"content-type": "application/json"})

    assert_problem(response, 400)
    (letter,) = dead_letters(app)
    assert letter.body == raw.decode()
    assert letter.body_bytes == len(raw)
    assert letter.reason_code == "malformed_json"
    assert letter.content_type == "application/json"
    assert letter.id in response.json()["detail"]
    assert inbox_count(app, "acme") == 0


def test_an_oversized_body_is_413_and_dead_lettered_with_its_size(
    app: App, service_key: str, clock: FixedClock
) -> None:
    app.settings.max_request_bytes = 2048
    event = order_placed("o-1", at=clock.now())
    event["data"]["lines"][0]["title"] = "x" * 3000
    raw = json.dumps(event).encode()

    with TestClient(create_app(app), headers=bearer(service_key)) as client:
        response = client.post("/v1/events", content=raw)

    assert len(raw) > 2048
    assert_problem(response, 413)
    (letter,) = dead_letters(app)
    assert letter.body_bytes == len(raw)
    assert letter.reason_code == "payload_too_large"
    assert inbox_count(app, "acme") == 0


def test_a_batch_above_the_event_limit_is_413(
    app: App, service_key: str, clock: FixedClock
) -> None:
    app.settings.max_batch_events = 3
    batch = [order_placed(f"o-{i}", at=clock.now()) for i in range(4)]

    with TestClient(create_app(app), headers=bearer(service_key)) as client:
        response = post_json(client, batch)

    assert_problem(response, 413)
    assert [d.reason_code for d in dead_letters(app)] == ["batch_too_large"]
    assert inbox_count(app, "acme") == 0


# --- who may post ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer oo_not-a-key-anyone-issued"}, 401),
    ],
    ids=["no key", "unknown key"],
)
def test_callers_without_a_valid_key_are_refused(
    app: App, clock: FixedClock, headers: dict[str, str], status: int
) -> None:
    with TestClient(create_app(app)) as client:
        response = post_json(client, order_placed("o-1", at=clock.now()), **headers)

    assert_problem(response, status)
    assert response.headers["www-authenticate"] == "Bearer"
    assert inbox_count(app, "acme") == 0


def test_a_viewer_may_not_post_events(app: App, clock: FixedClock) -> None:
    viewer = key_for(app, tenant_id="acme", name="ro", role=Role.VIEWER, clock=clock)

    with TestClient(create_app(app), headers=bearer(viewer.secret)) as client:
        response = post_json(client, order_placed("o-1", at=clock.now()))

    assert_problem(response, 403)
    assert inbox_count(app, "acme") == 0


def test_an_envelope_naming_another_tenant_is_refused_and_stored_nowhere(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    event = order_placed("o-1", at=clock.now())
    event["tenant"] = "globex"

    response = post_json(client, event)

    body = assert_problem(response, 422)
    assert "tenant" in body["detail"]
    assert inbox_count(app, "globex") == 0
    assert dead_letters(app, "globex") == []
    assert inbox_count(app, "acme") == 0
    assert [d.id for d in dead_letters(app, "acme")] == [body["dead_letter_id"]]


# --- order of arrival ------------------------------------------------------------------------


def test_an_older_payment_failure_after_a_capture_leaves_the_payment_captured(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    t1 = clock.now() - timedelta(hours=2)
    t2 = clock.now() - timedelta(hours=1)
    post_json(client, order_placed("o-1", at=t1 - timedelta(hours=1)))

    captured = post_json(client, payment("o-1", status="captured", at=t2, payment_ref="pi_9"))
    failed = post_json(
        client, payment("o-1", status="failed", at=t1, payment_ref="pi_9", failure_code="x")
    )

    assert (captured.status_code, failed.status_code) == (202, 202)
    assert work(app) == []
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        stored = uow.commerce.payment("stripe", "pi_9")
        order = uow.commerce.order_by_ref("o-1")
        assert stored is not None
        assert order is not None
        assert (stored.status, stored.status_at) == ("captured", t2)
        assert order.financial_status == "paid"
    assert cases_of(app) == []
