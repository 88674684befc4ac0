"""A captured Shopify body resent under another topic is refused (issue #18, hole 5).

Shopify signs the body, not the ``X-Shopify-Topic`` header, so whoever captured one
delivery holds a validly signed body they can resend under any topic with a fresh
webhook id. The webhook path refuses what the body does not prove (a cancellation body
without ``cancelled_at``) and a body already accepted under a topic Shopify never sends
with the same bytes; both are 422, dead-lettered with the reason, and counted on
/metrics. A provider's own retry (same webhook id) stays a harmless duplicate.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.database_roles import owner_sessions
from builders.webhooks import Delivery, metrics_of, post, shopify, shopify_order, webhook_client
from builders.worker import work
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.ingest.webhook_metrics import RejectReason
from orderops.storage.tables import DeadLetter, InboxEvent, Order
from orderops.storage.tables.sources import WebhookDelivery

SECRET = "shpss_" + "5f0e1c2d3b4a69788796a5b4c3d2e1f0"
"""A Shopify app secret in its real format: ``shpss_`` and 32 hex characters."""
PROBLEM_TYPE_TAIL = {"mismatch": "webhook-topic-mismatch", "replay": "webhook-replayed"}


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with webhook_client(app) as test_client:
        yield test_client


@pytest.fixture
def token(app: App) -> str:
    change = connect_source(
        app.sessions,
        tenant_id="acme",
        source=WebhookSource.SHOPIFY,
        box=SecretBox(app.settings.secret_key),
        clock=app.clock,
        actor="test",
        secret=SECRET,
    )
    return change.connection.endpoint_token


def send(client: TestClient, delivery: Delivery, token: str, clock: FixedClock) -> Any:
    return post(client, delivery, token=token, secret=SECRET, now=clock.now())


def resent_as(delivery: Delivery, topic: str, webhook_id: str) -> Delivery:
    """The same signed bytes under another topic and a fresh id (what an attacker can do)."""
    headers = {**delivery.headers, "X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": webhook_id}
    return Delivery(delivery.source, delivery.body, headers)


def rows(app: App, table: Any) -> list[Any]:
    with owner_sessions(app)() as session:
        found = list(session.scalars(select(table).where(table.tenant_id == "acme")))
        session.expunge_all()
        return found


def the_order(app: App) -> Order:
    """The order, once the worker has processed what was accepted."""
    work(app)
    (order,) = rows(app, Order)
    return order


def live_order(**overrides: Any) -> dict[str, Any]:
    """An order body as Shopify sends it on creation: not cancelled."""
    return shopify_order(cancelled_at=None, cancel_reason=None, **overrides)


def refused(response: Any, kind: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert body["type"].endswith(PROBLEM_TYPE_TAIL[kind])
    assert body["dead_letter_id"]
    return body


# --- the reported attack ---------------------------------------------------------------------


def test_an_order_body_resent_as_orders_cancelled_is_refused_and_cancels_nothing(
    client: TestClient, app: App, clock: FixedClock, token: str
) -> None:
    created = shopify("orders/create", live_order(), webhook_id="wh-create-1")
    assert send(client, created, token, clock).status_code == 202

    response = send(client, resent_as(created, "orders/cancelled", "wh-forged-1"), token, clock)

    body = refused(response, "mismatch")
    order = the_order(app)
    assert order.status != "cancelled"
    assert order.cancelled_at is None
    (letter,) = rows(app, DeadLetter)
    assert letter.id == body["dead_letter_id"]
    assert letter.reason_code == "topic_mismatch"
    assert "cancelled_at" in letter.reason
    assert letter.body == created.body.decode()
    reason = RejectReason.TOPIC_MISMATCH
    assert metrics_of(client).rejected_count(source="shopify", reason=reason) == 1


def test_a_body_carrying_cancelled_at_accepted_as_orders_create_cannot_be_resent_as_cancelled(
    client: TestClient, app: App, clock: FixedClock, token: str
) -> None:
    """The body would pass the cancelled_at check; having been accepted as a creation is
    what gives the resend away."""
    created = shopify("orders/create", shopify_order(), webhook_id="wh-create-2")
    assert send(client, created, token, clock).status_code == 202

    response = send(client, resent_as(created, "orders/cancelled", "wh-forged-2"), token, clock)

    body = refused(response, "replay")
    assert the_order(app).cancelled_at is None
    (letter,) = rows(app, DeadLetter)
    assert (letter.id, letter.reason_code) == (body["dead_letter_id"], "cross_topic_replay")
    assert "orders/create" in letter.reason
    reason = RejectReason.CROSS_TOPIC_REPLAY
    assert metrics_of(client).rejected_count(source="shopify", reason=reason) == 1


def test_a_cancellation_body_without_cancelled_at_is_refused_on_its_own(
    client: TestClient, app: App, clock: FixedClock, token: str
) -> None:
    response = send(client, shopify("orders/cancelled", live_order()), token, clock)

    refused(response, "mismatch")
    assert rows(app, InboxEvent) == []
    assert [d.status for d in rows(app, WebhookDelivery)] == ["rejected"]


def test_a_cancellation_replayed_as_a_creation_is_refused(
    client: TestClient, app: App, clock: FixedClock, token: str
) -> None:
    cancelled = shopify("orders/cancelled", shopify_order(), webhook_id="wh-cancel-1")
    assert send(client, cancelled, token, clock).status_code == 202
    inbox_before = len(rows(app, InboxEvent))

    response = send(client, resent_as(cancelled, "orders/create", "wh-forged-3"), token, clock)

    refused(response, "replay")
    assert len(rows(app, InboxEvent)) == inbox_before


# --- what stays accepted ---------------------------------------------------------------------


def test_a_retry_of_the_same_webhook_id_stays_an_idempotent_duplicate(
    client: TestClient, app: App, clock: FixedClock, token: str
) -> None:
    created = shopify("orders/create", live_order(), webhook_id="wh-create-3")

    first = send(client, created, token, clock)
    again = send(client, created, token, clock)

    assert first.json()["outcome"] == "accepted"
    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    assert again.json()["delivery"] == first.json()["delivery"]
    assert len(rows(app, WebhookDelivery)) == 1
    assert rows(app, DeadLetter) == []


def test_a_retry_of_a_refused_forgery_gets_the_same_refusal_and_no_new_letter(
    client: TestClient, app: App, clock: FixedClock, token: str
) -> None:
    forged = shopify("orders/cancelled", live_order(), webhook_id="wh-forged-4")

    first = refused(send(client, forged, token, clock), "mismatch")
    again = refused(send(client, forged, token, clock), "mismatch")

    assert again["dead_letter_id"] == first["dead_letter_id"]
    assert len(rows(app, DeadLetter)) == 1


@pytest.mark.parametrize(
    ("first_topic", "second_topic", "body"),
    [
        ("orders/create", "orders/updated", live_order),
        ("orders/cancelled", "orders/updated", shopify_order),
        ("orders/updated", "orders/cancelled", shopify_order),
    ],
    ids=["created-then-updated", "cancelled-then-updated", "updated-then-cancelled"],
)
def test_topics_shopify_sends_together_may_carry_the_same_bytes(
    client: TestClient,
    app: App,
    clock: FixedClock,
    token: str,
    first_topic: str,
    second_topic: str,
    body: Any,
) -> None:
    """Shopify fires orders/updated beside every other order topic, with the same order
    body; refusing it would drop a real cancellation and make Shopify retry forever."""
    first = shopify(first_topic, body(), webhook_id="wh-a")

    one = send(client, first, token, clock)
    two = send(client, resent_as(first, second_topic, "wh-b"), token, clock)

    assert (one.status_code, two.status_code) == (202, 202)
    assert two.json()["outcome"] == "accepted"
    assert rows(app, DeadLetter) == []
    cancelled = "orders/cancelled" in (first_topic, second_topic)
    assert (the_order(app).cancelled_at is not None) is cancelled
