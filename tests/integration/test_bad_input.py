"""Bad input is answered with a clear 4xx, never a 500, and a refused body is kept.

Each case here once answered 500 (issue #18, hole 7): deeply nested JSON, integers past
Python's conversion limit, NUL characters (PostgreSQL text cannot hold them), numbers past
a 32-bit column. A body that carried events or a webhook is refused with a dead letter that
holds it whole, and a stored webhook delivery never stays ``received``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import key_for
from builders.database_roles import owner_sessions
from builders.events import order_placed
from builders.webhooks import post, shopify, shopify_order, stripe_event, webhook_client
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.ingest import webhooks as ingest_webhooks
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.tables import DeadLetter, InboxEvent
from orderops.storage.tables.sources import SourceConnection, WebhookDelivery

PROBLEM_JSON = "application/problem+json"
SECRET = "acme-signing-secret-of-32-bytes-or-more"

DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INT = "9" * 5000


@pytest.fixture
def client(app: App, service_key: str) -> Iterator[TestClient]:
    with TestClient(
        create_app(app),
        headers={"Authorization": f"Bearer {service_key}"},
        raise_server_exceptions=False,
    ) as test_client:
        yield test_client


@pytest.fixture
def hooks(app: App) -> Iterator[TestClient]:
    with webhook_client(app, raise_server_exceptions=False) as test_client:
        yield test_client


def letters(app: App) -> list[DeadLetter]:
    with owner_sessions(app)() as session:
        found = list(session.scalars(select(DeadLetter).where(DeadLetter.tenant_id == "acme")))
        session.expunge_all()
        return found


def deliveries(app: App) -> list[WebhookDelivery]:
    with owner_sessions(app)() as session:
        found = list(session.scalars(select(WebhookDelivery)))
        session.expunge_all()
        return found


def inbox_rows(app: App) -> int:
    with owner_sessions(app)() as session:
        return len(list(session.scalars(select(InboxEvent.id))))


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


def event_text(clock: FixedClock, **data: Any) -> str:
    event = order_placed("o-bad", at=clock.now() - timedelta(hours=1))
    event["data"].update(data)
    return json.dumps(event)


# --- request bodies of POST /v1/events ---------------------------------------------------------


def test_deeply_nested_json_is_refused_and_dead_lettered_whole(
    client: TestClient, app: App
) -> None:
    response = client.post("/v1/events", content=DEEP)

    assert_problem(response, 400)
    (letter,) = letters(app)
    assert letter.reason_code == "json_too_deep"
    assert letter.body.encode() == DEEP
    assert inbox_rows(app) == 0


def test_an_integer_of_5000_digits_is_refused_and_dead_lettered(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    text = event_text(clock).replace('"total_minor": 5000', f'"total_minor": {HUGE_INT}')
    assert HUGE_INT in text

    response = client.post("/v1/events", content=text)

    assert "digits" in assert_problem(response, 400)["detail"]
    (letter,) = letters(app)
    assert letter.reason_code == "json_number_too_long"
    assert letter.body == text


def test_a_nul_character_in_a_body_string_is_refused_and_dead_lettered(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    text = event_text(clock, number="10\u000001")
    assert "\\u0000" in text

    response = client.post("/v1/events", content=text)

    assert "NUL" in assert_problem(response, 400)["detail"]
    (letter,) = letters(app)
    assert letter.reason_code == "json_nul_character"
    assert letter.body == text
    assert inbox_rows(app) == 0


def test_a_raw_nul_byte_in_a_body_is_refused_and_still_dead_lettered(
    client: TestClient, app: App
) -> None:
    response = client.post("/v1/events", content=b'{"id": "a\x00b"}')

    assert_problem(response, 400)
    (letter,) = letters(app)
    assert letter.reason_code == "malformed_json"
    assert letter.body_bytes == len(b'{"id": "a\x00b"}')


def test_infinite_numbers_are_refused_because_no_json_column_can_hold_them(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    for number in ("1e999", "NaN", "-Infinity"):
        text = event_text(clock).replace('"total_minor": 5000', f'"total_minor": {number}')

        response = client.post("/v1/events", content=text)

        assert_problem(response, 400)
    assert [letter.reason_code for letter in letters(app)] == ["json_non_finite_number"] * 3


def test_a_lone_surrogate_is_refused_because_it_cannot_be_stored_as_utf8(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    text = event_text(clock, number="\\ud800")
    text = text.replace("\\\\ud800", "\\ud800")

    response = client.post("/v1/events", content=text)

    assert_problem(response, 400)
    (letter,) = letters(app)
    assert letter.reason_code == "json_invalid_unicode"


def test_nesting_within_the_limit_is_still_accepted(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    nested: Any = "deep"
    for _ in range(30):
        nested = {"n": nested}
    text = event_text(clock, extra=nested)

    response = client.post("/v1/events", content=text)

    assert response.status_code == 202, response.text
    assert letters(app) == []


# --- JSON bodies of the other routes --------------------------------------------------------


def test_a_nul_character_in_a_model_body_answers_400(app: App, clock: FixedClock) -> None:
    admin = key_for(app, tenant_id="acme", name="adm", role=Role.ADMIN, clock=clock)
    with TestClient(
        create_app(app),
        headers={"Authorization": f"Bearer {admin.secret}"},
        raise_server_exceptions=False,
    ) as client:
        response = client.post("/v1/sources", json={"source": "shopify", "base_url": "a\u0000b"})
        deep = client.post(
            "/v1/sources", content=DEEP, headers={"content-type": "application/json"}
        )

    assert "NUL" in assert_problem(response, 400)["detail"]
    assert "deep" in assert_problem(deep, 400)["detail"]


def test_a_model_body_over_the_desk_s_limit_answers_413_unread(app: App, clock: FixedClock) -> None:
    """Before, only the backtest route bounded its JSON body: any other held it whole."""
    admin = key_for(app, tenant_id="acme", name="adm", role=Role.ADMIN, clock=clock)
    limit = app.settings.max_request_bytes
    padded = json.dumps({"source": "shopify", "base_url": "https://a.example", "x": "y" * limit})

    def streamed() -> Iterator[bytes]:  # no Content-Length: only counting can stop it
        for start in range(0, len(padded), 65_536):
            yield padded[start : start + 65_536].encode()

    with TestClient(
        create_app(app),
        headers={"Authorization": f"Bearer {admin.secret}"},
        raise_server_exceptions=False,
    ) as client:
        declared = client.post(
            "/v1/sources", content=padded, headers={"content-type": "application/json"}
        )
        counted = client.post(
            "/v1/sources", content=streamed(), headers={"content-type": "application/json"}
        )

    assert f"over {limit} bytes" in assert_problem(declared, 413)["detail"]
    assert assert_problem(counted, 413)["type"].endswith("/payload-too-large")
    with owner_sessions(app)() as session:
        assert session.scalars(select(SourceConnection)).all() == []


# --- query and path parameters --------------------------------------------------------------


def test_a_nul_character_in_a_query_parameter_answers_422(client: TestClient) -> None:
    response = client.get("/v1/cases?order_ref=a%00b")

    assert_problem(response, 422)


def test_a_nul_character_in_a_path_parameter_answers_422(client: TestClient) -> None:
    response = client.get("/v1/cases/a%00b")

    assert_problem(response, 422)


def test_a_version_past_32_bits_answers_422(app: App, clock: FixedClock) -> None:
    admin = key_for(app, tenant_id="acme", name="adm", role=Role.ADMIN, clock=clock)
    with TestClient(
        create_app(app),
        headers={"Authorization": f"Bearer {admin.secret}"},
        raise_server_exceptions=False,
    ) as client:
        response = client.get("/v1/admin/approval-policy?version=2147483648")

    assert_problem(response, 422)


def test_paging_outside_its_bounds_answers_422(client: TestClient) -> None:
    for query in ("limit=0", "limit=100000", "offset=-1", "offset=99999999999"):
        assert_problem(client.get(f"/v1/cases?{query}"), 422)


def test_a_wrong_method_answers_405_with_the_allowed_ones(client: TestClient) -> None:
    response = client.delete("/v1/events")

    assert_problem(response, 405)
    assert response.headers["allow"] == "POST"


# --- webhook deliveries -----------------------------------------------------------------------


def connect(app: App, source: str) -> str:
    change = connect_source(
        app.sessions,
        tenant_id="acme",
        source=WebhookSource(source),
        box=SecretBox(app.settings.secret_key),
        clock=app.clock,
        actor="test",
        secret=SECRET,
    )
    return change.connection.endpoint_token


def assert_refused_and_kept(app: App, response: Any, body: bytes) -> None:
    assert response.status_code in (400, 422), response.text[:500]
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    (delivery,) = deliveries(app)
    assert delivery.status == "rejected"
    assert delivery.dead_letter_id == response.json()["dead_letter_id"]
    (letter,) = letters(app)
    assert letter.id == delivery.dead_letter_id
    assert letter.body.encode() == body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(DEEP, id="deeply-nested"),
        pytest.param(b'{"id": ' + HUGE_INT.encode() + b"}", id="5000-digit-integer"),
        pytest.param(b'{"id": 1, "name": "#10\\u000001"}', id="nul-character"),
    ],
)
def test_a_shopify_delivery_with_a_bad_body_is_refused_and_kept(
    hooks: TestClient, app: App, clock: FixedClock, body: bytes
) -> None:
    token = connect(app, "shopify")
    delivery = shopify("orders/create", {})
    delivery = type(delivery)("shopify", body, delivery.headers)

    response = post(hooks, delivery, token=token, secret=SECRET, now=clock.now())

    assert_refused_and_kept(app, response, body)


def test_a_stripe_delivery_too_deep_to_read_its_id_is_still_stored_and_refused(
    hooks: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app, "stripe")
    delivery = stripe_event("payment_intent.payment_failed", created=clock.now())
    delivery = type(delivery)("stripe", DEEP, delivery.headers)

    response = post(hooks, delivery, token=token, secret=SECRET, now=clock.now())

    assert_refused_and_kept(app, response, DEEP)


def test_a_delivery_whose_intake_fails_unexpectedly_is_not_left_received(
    hooks: TestClient, app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever breaks after the delivery is stored, its row ends refused with a dead letter,
    so the provider stops retrying and the body waits for a replay."""
    token = connect(app, "shopify")
    delivery = shopify("orders/create", shopify_order(), webhook_id="wh-broken")

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ingest_webhooks, "accept_items", broken)
    response = post(hooks, delivery, token=token, secret=SECRET, now=clock.now())

    assert_problem(response, 422)
    (stored,) = deliveries(app)
    assert stored.status == "rejected"
    assert stored.body.encode() == delivery.body
    (letter,) = letters(app)
    assert letter.id == stored.dead_letter_id == response.json()["dead_letter_id"]
    assert letter.reason_code == "processing_error"
    (event,) = json.loads(letter.body)  # the mapped events, as `deadletters replay` takes them
    assert event["type"] == "order.placed"
