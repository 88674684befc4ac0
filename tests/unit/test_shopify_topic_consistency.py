"""A Shopify delivery means what its signed body proves, not what its unsigned topic says.

Shopify signs the body only; ``X-Shopify-Topic`` travels beside the signature. A body
captured once can be resent under any topic, so each topic's mapping first checks that
the body is the resource that topic carries, and a cancellation needs the body's own
``cancelled_at``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.ingest.adapters import ADAPTERS
from orderops.ingest.adapters.shopify import (
    IGNORED_TOPICS,
    MAPPERS,
    TOPIC_RESOURCES,
    TopicMismatch,
    are_companion_topics,
)
from orderops.ingest.adapters.shopify_topics import FULFILLMENT_ORDER_TOPICS

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
GADGET = FIXTURES / "webhook_examples_gadget"
PYTHON_API = FIXTURES / "shopify_python_api"
ADAPTER = ADAPTERS["shopify"]

RESOURCES = {
    "order": GADGET / "orders__create.2026-04.json",
    "fulfillment": GADGET / "fulfillments__create.2026-04.json",
    "refund": GADGET / "refunds__create.2026-04.json",
    "inventory_level": GADGET / "2025-04__inventory_levels__1.json",
    "product": GADGET / "products__create.2026-04.json",
    "inventory_item": GADGET / "inventory_items__create.2026-04.json",
    "customer": GADGET / "customers__create.2026-04.json",
    "fulfillment_order": GADGET / "fulfillment_orders__placed_on_hold.2026-04.json",
    "dispute": GADGET / "disputes__create.2026-04.json",
}
TOPIC_RESOURCE = {
    "orders/create": "order",
    "orders/updated": "order",
    "orders/paid": "order",
    "orders/fulfilled": "order",
    "orders/partially_fulfilled": "order",
    "orders/cancelled": "order",
    "fulfillments/create": "fulfillment",
    "fulfillments/update": "fulfillment",
    "refunds/create": "refund",
    "inventory_levels/connect": "inventory_level",
    "inventory_levels/update": "inventory_level",
    "products/create": "product",
    "products/update": "product",
    "inventory_items/create": "inventory_item",
    "inventory_items/update": "inventory_item",
    "customers/create": "customer",
    "customers/update": "customer",
    "customers/enable": "customer",
    "customers/disable": "customer",
    "disputes/create": "dispute",
    **dict.fromkeys(sorted(FULFILLMENT_ORDER_TOPICS), "fulfillment_order"),
}


def body_of(path: Path) -> dict[str, Any]:
    """Shopify's documented example, or the REST resource unwrapped."""
    doc = json.loads(path.read_text())
    if "response" in doc:
        return dict(doc["response"])
    if len(doc) == 1 and isinstance(next(iter(doc.values())), dict):
        return dict(next(iter(doc.values())))
    return dict(doc)


def deliver(topic: str, raw: dict[str, Any]) -> list[dict[str, Any]]:
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": "wh-forged",
        "X-Shopify-Triggered-At": "2026-03-02T14:05:09Z",
    }
    return ADAPTER.to_events(headers=headers, body=json.dumps(raw).encode())


def test_a_cancellation_without_cancelled_at_is_refused_not_dated_by_updated_at() -> None:
    live_order = body_of(PYTHON_API / "order.json")
    assert live_order["cancelled_at"] is None
    assert live_order["updated_at"]

    with pytest.raises(TopicMismatch, match="cancelled_at"):
        deliver("orders/cancelled", live_order)


def test_a_cancellation_dates_itself_by_its_own_cancelled_at() -> None:
    raw = body_of(GADGET / "orders__cancelled.2026-04.json")
    raw["updated_at"] = "2030-01-01T00:00:00Z"

    (cancelled,) = deliver("orders/cancelled", raw)

    assert cancelled["type"] == EventType.ORDER_CANCELLED
    assert cancelled["time"].startswith("2022-01-01T00:00:00")


@pytest.mark.parametrize(
    ("topic", "resource"),
    [
        (topic, resource)
        for topic, wanted in TOPIC_RESOURCE.items()
        for resource in RESOURCES
        if resource != wanted
    ],
)
def test_a_body_of_another_resource_under_a_topic_is_a_mismatch(topic: str, resource: str) -> None:
    with pytest.raises(TopicMismatch, match=topic):
        deliver(topic, body_of(RESOURCES[resource]))


@pytest.mark.parametrize("topic", sorted(TOPIC_RESOURCE))
def test_each_topic_still_maps_its_own_resource(topic: str) -> None:
    events = deliver(topic, body_of(RESOURCES[TOPIC_RESOURCE[topic]]))

    assert events, f"{topic} mapped nothing from its own fixture"


def test_every_mapped_topic_names_its_resource_and_no_topic_is_both_mapped_and_ignored() -> None:
    assert TOPIC_RESOURCES == TOPIC_RESOURCE
    assert set(MAPPERS) == set(TOPIC_RESOURCES)
    assert not set(MAPPERS) & IGNORED_TOPICS


def test_a_mismatch_is_an_invalid_event_so_it_is_dead_lettered() -> None:
    assert issubclass(TopicMismatch, InvalidEvent)
    assert TopicMismatch.code != InvalidEvent.code


@pytest.mark.parametrize(
    ("first", "second", "companions"),
    [
        ("orders/create", "orders/updated", True),
        ("orders/cancelled", "orders/updated", True),
        ("fulfillments/create", "fulfillments/update", True),
        ("orders/create", "orders/cancelled", False),
        ("orders/cancelled", "orders/create", False),
        ("refunds/create", "orders/updated", False),
        ("orders/create", "orders/paid", True),
        ("orders/paid", "orders/fulfilled", True),
        ("orders/paid", "orders/cancelled", False),
        ("products/create", "products/update", True),
        ("inventory_items/create", "inventory_items/update", True),
        ("inventory_levels/connect", "inventory_levels/update", True),
        ("customers/create", "customers/update", True),
        ("customers/disable", "customers/update", True),
        ("fulfillment_orders/placed_on_hold", "fulfillment_orders/hold_released", True),
        ("fulfillment_orders/order_routing_complete", "fulfillment_orders/hold_released", True),
        ("products/update", "inventory_items/update", False),
        ("customers/update", "orders/updated", False),
        ("fulfillment_orders/cancelled", "orders/cancelled", False),
        ("disputes/create", "orders/updated", False),
        ("disputes/create", "disputes/update", False),
    ],
)
def test_only_topics_shopify_sends_together_may_share_a_body(
    first: str, second: str, companions: bool
) -> None:
    assert are_companion_topics(first, second) is companions
