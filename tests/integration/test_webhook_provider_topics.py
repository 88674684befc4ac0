"""The topics a store subscribes us to are accepted through the real webhook endpoint.

Products, inventory items, customers, fulfillment orders, disputes and the other order
topics used to answer 422, which makes Shopify retry and finally drop the subscription.
Each delivery here is Shopify's (or Stripe's) own documented example, signed as the
provider signs it: mapped topics are accepted with their canonical events, known but
irrelevant ones stored and ignored, and none is dead-lettered. Malformed bodies of the
new topics and forged topic/body pairs are still refused with a reason and kept.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.database_roles import owner_sessions
from builders.webhooks import Delivery, load, post, shopify, stripe_event, webhook_client
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.tables import DeadLetter, InboxEvent
from orderops.storage.tables.sources import WebhookDelivery

SECRET = "shpss_" + "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TRIGGERED_AT = "2026-11-20T11:58:00.123456789Z"


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with webhook_client(app) as test_client:
        yield test_client


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


def rows(app: App, table: Any) -> list[Any]:
    with owner_sessions(app)() as session:
        found = list(session.scalars(select(table).where(table.tenant_id == "acme")))
        session.expunge_all()
        return found


def example(topic: str) -> dict[str, Any]:
    """Shopify's documented example body for ``topic`` (API 2026-04)."""
    name = f"shopify/webhook_examples_gadget/{topic.replace('/', '__')}.2026-04.json"
    body: dict[str, Any] = copy.deepcopy(load(name)["response"])
    return body


def delivery(topic: str, body: dict[str, Any] | None = None, **ids: str) -> Delivery:
    sent = shopify(topic, example(topic) if body is None else body, **ids)
    return Delivery(
        sent.source, sent.body, {**sent.headers, "X-Shopify-Triggered-At": TRIGGERED_AT}
    )


def connected_level() -> dict[str, Any]:
    """Shopify's own example for inventory_levels/connect is an empty object."""
    return {
        "inventory_item_id": 271878346596884015,
        "location_id": 24826418,
        "available": 6,
        "updated_at": "2026-11-20T06:00:00-05:00",
    }


ACCEPTED: dict[str, list[str]] = {
    "orders/paid": ["order.updated"],
    "orders/fulfilled": ["order.updated"],
    "orders/partially_fulfilled": ["order.updated"],
    "refunds/create": ["order.refund"],
    "products/create": ["catalog.item", "catalog.item"],
    "products/update": ["catalog.item", "catalog.item"],
    "inventory_items/create": ["catalog.item"],
    "inventory_items/update": ["catalog.item"],
    "inventory_levels/connect": ["inventory.level"],
    "customers/create": ["customer.upserted"],
    "customers/enable": ["customer.upserted"],
    "fulfillment_orders/placed_on_hold": ["fulfillment.hold"],
    "fulfillment_orders/hold_released": ["fulfillment.hold"],
    "fulfillment_orders/moved": ["fulfillment.hold"],
    "fulfillment_orders/merged": ["fulfillment.hold"],
    "fulfillment_orders/fulfillment_request_submitted": ["fulfillment.hold"],
    "disputes/create": ["fraud.signal"],
}
"""Each new topic, with the canonical events its documented example becomes."""

IGNORED = [
    "orders/edited",
    "orders/delete",
    "order_transactions/create",
    "fulfillment_events/create",
    "fulfillment_holds/added",
    "products/delete",
    "inventory_items/delete",
    "inventory_levels/disconnect",
    "customers/delete",
    "customers/redact",
    "disputes/update",
]


def test_every_new_shopify_topic_is_accepted_with_its_events_and_nothing_dead_lettered(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app, "shopify")
    bodies = {"inventory_levels/connect": connected_level()}

    answers = {}
    for topic in ACCEPTED:
        sent = delivery(topic, bodies.get(topic), webhook_id=f"wh-{topic}")
        response = post(client, sent, token=token, secret=SECRET, now=clock.now())
        answers[topic] = (response.status_code, response.json().get("outcome"))

    assert answers == dict.fromkeys(ACCEPTED, (202, "accepted"))
    inbox = rows(app, InboxEvent)
    by_delivery = {
        topic: sorted(e.type for e in inbox if e.event_id.startswith(f"wh-{topic}"))
        for topic in ACCEPTED
    }
    assert by_delivery == {topic: sorted(types) for topic, types in ACCEPTED.items()}
    assert {d.status for d in rows(app, WebhookDelivery)} == {"accepted"}
    assert rows(app, DeadLetter) == []


def test_known_but_irrelevant_topics_are_stored_and_ignored(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app, "shopify")

    answers = {
        topic: post(client, delivery(topic), token=token, secret=SECRET, now=clock.now()).json()[
            "outcome"
        ]
        for topic in IGNORED
    }

    assert answers == dict.fromkeys(IGNORED, "ignored")
    assert [d.status for d in rows(app, WebhookDelivery)] == ["ignored"] * len(IGNORED)
    assert rows(app, InboxEvent) == []
    assert rows(app, DeadLetter) == []


def test_a_stripe_charge_event_is_accepted_as_the_charges_payment_intent(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app, "stripe")
    charge = stripe_event("charge.succeeded", created=clock.now(), event_id="evt_charge_1")

    response = post(client, charge, token=token, secret=SECRET, now=clock.now())

    assert (response.status_code, response.json()["outcome"]) == (202, "accepted")
    (stored,) = rows(app, InboxEvent)
    body = json.loads(charge.body)["data"]["object"]
    assert (stored.event_id, stored.type) == ("evt_charge_1", "alias.observed")
    assert stored.envelope["data"] == {
        "entity": {"kind": "stripe.payment_intent", "value": body["payment_intent"]},
        "aliases": [{"kind": "stripe.charge", "value": body["id"]}],
    }
    assert rows(app, DeadLetter) == []


# --- what is still refused -------------------------------------------------------------------


def _mangled_product() -> dict[str, Any]:
    return {**example("products/update"), "variants": {"id": 1}}


def _customer_without_id() -> dict[str, Any]:
    body = example("customers/update")
    del body["id"]
    return body


@pytest.mark.parametrize(
    ("topic", "build", "headers", "reason"),
    [
        ("products/update", _mangled_product, {}, "product.variants is missing or not a list"),
        ("customers/update", _customer_without_id, {}, "customer.id is missing"),
        (
            "inventory_levels/connect",
            lambda: {**connected_level(), "available": "six"},
            {},
            "not a whole number",
        ),
        (
            "fulfillment_orders/placed_on_hold",
            lambda: {"fulfillment_order": {"status": "on_hold"}},
            {},
            "fulfillment_order.id is missing",
        ),
        (
            "fulfillment_orders/hold_released",
            lambda: example("fulfillment_orders/hold_released"),
            {"X-Shopify-Triggered-At": ""},
            "Triggered-At",
        ),
    ],
    ids=["variants-not-a-list", "customer-no-id", "text-quantity", "hold-no-id", "hold-no-time"],
)
def test_a_malformed_body_of_a_new_topic_is_422_and_dead_lettered_with_its_reason(
    client: TestClient,
    app: App,
    clock: FixedClock,
    topic: str,
    build: Any,
    headers: dict[str, str],
    reason: str,
) -> None:
    token = connect(app, "shopify")
    sent = delivery(topic, build())
    sent = Delivery(sent.source, sent.body, {**sent.headers, **headers})

    response = post(client, sent, token=token, secret=SECRET, now=clock.now())

    assert response.status_code == 422
    assert reason in response.json()["detail"]
    (letter,) = rows(app, DeadLetter)
    assert (letter.reason_code, letter.body) == ("invalid_payload", sent.body.decode())
    assert reason in letter.reason
    assert rows(app, InboxEvent) == []


@pytest.mark.parametrize(
    ("claimed", "actual"),
    [
        ("customers/update", "products/update"),
        ("products/update", "inventory_items/update"),
        ("inventory_items/update", "customers/update"),
        ("orders/paid", "customers/update"),
        ("fulfillment_orders/hold_released", "orders/updated"),
        ("disputes/create", "refunds/create"),
        ("refunds/create", "disputes/create"),
    ],
)
def test_a_body_of_another_resource_under_a_new_topic_is_refused_as_a_mismatch(
    client: TestClient, app: App, clock: FixedClock, claimed: str, actual: str
) -> None:
    token = connect(app, "shopify")
    sent = delivery(claimed, example(actual))

    response = post(client, sent, token=token, secret=SECRET, now=clock.now())

    assert response.status_code == 422
    assert response.json()["type"].endswith("webhook-topic-mismatch")
    (letter,) = rows(app, DeadLetter)
    assert letter.reason_code == "topic_mismatch"
    assert rows(app, InboxEvent) == []


def test_a_cancellation_resent_as_orders_paid_is_a_replay(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    """orders/paid reads the whole order like orders/updated, but Shopify never sends a
    cancelled order's body as a payment: the same bytes under it are a replay."""
    token = connect(app, "shopify")
    cancelled = delivery("orders/cancelled", example("orders/cancelled"), webhook_id="wh-c1")
    assert post(client, cancelled, token=token, secret=SECRET, now=clock.now()).status_code == 202
    forged = Delivery(
        cancelled.source,
        cancelled.body,
        {**cancelled.headers, "X-Shopify-Topic": "orders/paid", "X-Shopify-Webhook-Id": "wh-f1"},
    )

    response = post(client, forged, token=token, secret=SECRET, now=clock.now())

    assert response.status_code == 422
    assert response.json()["type"].endswith("webhook-replayed")
    assert [letter.reason_code for letter in rows(app, DeadLetter)] == ["cross_topic_replay"]


def test_the_same_fulfillment_order_body_under_two_of_its_topics_is_ordinary_traffic(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    """Routing completed and a hold released both send {"id", "status": "open"}."""
    token = connect(app, "shopify")
    body = example("fulfillment_orders/order_routing_complete")
    routed = delivery("fulfillment_orders/order_routing_complete", body, webhook_id="wh-r1")
    released = delivery("fulfillment_orders/hold_released", body, webhook_id="wh-r2")
    assert routed.body == released.body

    answers = [
        post(client, sent, token=token, secret=SECRET, now=clock.now()).status_code
        for sent in (routed, released)
    ]

    assert answers == [202, 202]
    assert [e.type for e in rows(app, InboxEvent)] == ["fulfillment.hold"] * 2
    assert rows(app, DeadLetter) == []
