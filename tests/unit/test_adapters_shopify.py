"""Shopify webhook bodies become canonical events that parse_event accepts."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.domain.statuses import TrackingStatus
from orderops.ingest.adapters import ADAPTERS, UnsupportedEvent
from orderops.ingest.adapters.shopify import SHIPMENT_STATUSES
from orderops.ingest.envelope import CanonicalEvent, parse_event

FIXTURES = Path(__file__).parents[1] / "fixtures" / "shopify"
GADGET = FIXTURES / "webhook_examples_gadget"
PYTHON_API = FIXTURES / "shopify_python_api"
ADAPTER = ADAPTERS["shopify"]


def body_of(path: Path) -> dict[str, Any]:
    """The webhook body: Shopify's documented example, or the REST resource unwrapped."""
    doc = json.loads(path.read_text())
    if "response" in doc:
        return dict(doc["response"])
    if len(doc) == 1 and isinstance(next(iter(doc.values())), dict):
        return dict(next(iter(doc.values())))
    return dict(doc)


def deliver(topic: str, body: bytes | dict[str, Any], **extra: str) -> list[dict[str, Any]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": "wh-123", **extra}
    return ADAPTER.to_events(headers=headers, body=raw)


def canonical(events: list[dict[str, Any]]) -> list[CanonicalEvent]:
    return [parse_event(json.loads(json.dumps(e)), tenant_id="t1") for e in events]


def shopify_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.mark.parametrize(
    ("path", "topic", "expected"),
    [
        (GADGET / "orders__create.2026-04.json", "orders/create", [EventType.ORDER_PLACED]),
        (GADGET / "orders__updated.2026-04.json", "orders/updated", [EventType.ORDER_UPDATED]),
        (
            GADGET / "orders__cancelled.2026-04.json",
            "orders/cancelled",
            [EventType.ORDER_CANCELLED],
        ),
        (GADGET / "orders__paid.2026-04.json", "orders/paid", [EventType.ORDER_UPDATED]),
        (
            GADGET / "orders__fulfilled.2026-04.json",
            "orders/fulfilled",
            [EventType.ORDER_UPDATED],
        ),
        (
            GADGET / "orders__partially_fulfilled.2026-04.json",
            "orders/partially_fulfilled",
            [EventType.ORDER_UPDATED],
        ),
        (
            GADGET / "fulfillments__create.2026-04.json",
            "fulfillments/create",
            [EventType.SHIPMENT_CREATED],
        ),
        (
            GADGET / "fulfillments__update.2026-04.json",
            "fulfillments/update",
            [EventType.SHIPMENT_CREATED],
        ),
        (GADGET / "refunds__create.2026-04.json", "refunds/create", [EventType.ORDER_REFUND]),
        (GADGET / "inventory_levels__update.2024-04.json", "inventory_levels/update", []),
        (GADGET / "2025-04__refunds__2.json", "refunds/create", []),
        (
            GADGET / "2025-04__inventory_levels__1.json",
            "inventory_levels/update",
            [EventType.INVENTORY_LEVEL],
        ),
        (
            GADGET / "2025-04__fulfillments__1.json",
            "fulfillments/update",
            [EventType.SHIPMENT_CREATED],
        ),
        (PYTHON_API / "order.json", "orders/create", [EventType.ORDER_PLACED]),
        (PYTHON_API / "refund.json", "refunds/create", [EventType.ORDER_REFUND]),
        (PYTHON_API / "fulfillment.json", "fulfillments/create", [EventType.SHIPMENT_CREATED]),
        (
            PYTHON_API / "inventory_level.json",
            "inventory_levels/update",
            [EventType.INVENTORY_LEVEL],
        ),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else None,
)
def test_every_fixture_maps_to_the_expected_canonical_events(
    path: Path, topic: str, expected: list[EventType]
) -> None:
    events = canonical(deliver(topic, body_of(path)))

    assert [e.type for e in events] == expected
    assert all(e.envelope.source == "shopify" for e in events)
    assert all(e.envelope.id.startswith("wh-123") for e in events)


def test_an_order_keeps_customer_lines_money_and_times_exactly() -> None:
    raw = body_of(GADGET / "orders__create.2026-04.json")

    (placed,) = canonical(deliver("orders/create", raw))
    data = placed.payload.model_dump()

    assert data["order_ref"] == str(raw["id"])
    assert data["number"] == raw["name"]
    assert data["currency"] == raw["currency"]
    assert data["total_minor"] == int(Decimal(raw["total_price"]) * 100)
    assert [line["sku"] for line in data["lines"]] == [i["sku"] for i in raw["line_items"]]
    assert [line["unit_price_minor"] for line in data["lines"]] == [
        int(Decimal(i["price"]) * 100) for i in raw["line_items"]
    ]
    assert data["placed_at"] == shopify_time(raw["created_at"])
    assert data["customer"]["customer_ref"] == str(raw["customer"]["id"])
    assert data["customer"]["email"] == raw["customer"]["email"]
    assert data["customer"]["name"] == "John Smith"
    assert data["ship_to"]["country"] == raw["shipping_address"]["country_code"]
    assert data["ship_to"]["postal_code"] == raw["shipping_address"]["zip"]
    assert placed.envelope.time == shopify_time(raw["updated_at"])
    assert placed.envelope.subject == str(raw["id"])


def test_an_order_carries_every_other_name_it_goes_by() -> None:
    raw = body_of(GADGET / "orders__create.2026-04.json")
    raw.update(
        checkout_token="b1946ac92492d2347c6235b4d2611184",
        cart_token="68778783ad298f1c80c3bafcddeea02f",
        checkout_id=901414060,
    )

    (placed,) = canonical(deliver("orders/create", raw))

    aliases = [(k["kind"], k["value"]) for k in placed.payload.model_dump()["aliases"]]
    assert aliases == [
        ("shopify.order", str(raw["id"])),
        ("shopify.checkout_token", raw["checkout_token"]),
        ("shopify.cart_token", raw["cart_token"]),
        ("shopify.checkout", "901414060"),
        ("order.name", raw["name"]),
        ("order.number", str(raw["order_number"])),
    ]


def test_an_orders_customer_is_named_by_its_shopify_id_and_email() -> None:
    raw = body_of(GADGET / "orders__create.2026-04.json")

    (placed,) = canonical(deliver("orders/create", raw))

    customer = placed.payload.model_dump()["customer"]
    assert customer["aliases"] == [
        {"kind": "shopify.customer", "value": str(raw["customer"]["id"])},
        {"kind": "email", "value": raw["customer"]["email"]},
    ]


def test_transactions_in_an_order_body_name_the_order_too() -> None:
    raw = body_of(PYTHON_API / "order.json")
    raw["transactions"] = [{"id": 389404469, "kind": "sale"}, {"id": 389404470}, "junk"]

    (placed,) = canonical(deliver("orders/create", raw))

    aliases = placed.payload.model_dump()["aliases"]
    transactions = [a["value"] for a in aliases if a["kind"] == "shopify.transaction"]
    assert transactions == ["389404469", "389404470"]


def test_a_refunded_order_keeps_its_original_total() -> None:
    """current_total_price drops to what is left after refunds; the order total does not."""
    raw = body_of(GADGET / "orders__updated.2026-04.json")
    raw["current_total_price"] = "0.00"
    raw["financial_status"] = "refunded"

    (updated,) = canonical(deliver("orders/updated", raw))

    assert updated.payload.model_dump()["total_minor"] == int(Decimal(raw["total_price"]) * 100)


def test_an_order_without_total_price_is_refused_even_with_a_current_total() -> None:
    raw = body_of(GADGET / "orders__create.2026-04.json")
    del raw["total_price"]

    with pytest.raises(InvalidEvent, match=r"order\.total_price is missing"):
        deliver("orders/create", raw)


@pytest.mark.parametrize("topic", ["orders/paid", "orders/fulfilled", "orders/partially_fulfilled"])
def test_other_order_state_topics_map_like_orders_updated(topic: str) -> None:
    raw = body_of(GADGET / "orders__updated.2026-04.json")

    (state,) = canonical(deliver(topic, raw))
    (updated,) = canonical(deliver("orders/updated", raw))

    assert state.type is EventType.ORDER_UPDATED
    assert state.payload == updated.payload
    assert state.envelope.time == updated.envelope.time


def test_a_line_without_sku_is_keyed_by_its_variant() -> None:
    raw = body_of(PYTHON_API / "order.json")
    raw["line_items"][0]["sku"] = ""

    (placed,) = canonical(deliver("orders/create", raw))

    variant = raw["line_items"][0]["variant_id"]
    assert placed.payload.model_dump()["lines"][0]["sku"] == f"shopify-variant-{variant}"


def test_a_cancelled_order_carries_its_reason_and_cancellation_time() -> None:
    raw = body_of(GADGET / "orders__cancelled.2026-04.json")

    (cancelled,) = canonical(deliver("orders/cancelled", raw))

    assert cancelled.payload.model_dump() == {
        "order_ref": str(raw["id"]),
        "reason": raw["cancel_reason"],
    }
    assert cancelled.envelope.time == shopify_time(raw["cancelled_at"])


def test_a_fulfillment_is_a_shipment_of_the_order_with_its_tracking_number() -> None:
    raw = body_of(PYTHON_API / "fulfillment.json")

    (shipment,) = canonical(deliver("fulfillments/create", raw))
    data = shipment.payload.model_dump()

    assert data["shipment_ref"] == str(raw["id"])
    assert data["order_ref"] == str(raw["order_id"])
    assert data["tracking_number"] == raw["tracking_number"]
    assert data["carrier"] == raw["tracking_company"]
    assert data["order_keys"] == []
    assert data["aliases"] == [
        {"kind": "shopify.fulfillment", "value": str(raw["id"])},
        {"kind": "tracking", "value": raw["tracking_number"]},
    ]


def test_the_fulfillment_id_names_only_the_shipment_of_its_first_tracking_number() -> None:
    raw = body_of(PYTHON_API / "fulfillment.json")
    raw["tracking_number"] = "1Z001"
    raw["tracking_numbers"] = ["1Z001", "1Z002"]
    raw["shipment_status"] = None

    first, second = canonical(deliver("fulfillments/create", raw))

    assert first.payload.model_dump()["aliases"] == [
        {"kind": "shopify.fulfillment", "value": str(raw["id"])},
        {"kind": "tracking", "value": "1Z001"},
    ]
    assert second.payload.model_dump()["aliases"] == [{"kind": "tracking", "value": "1Z002"}]
    assert first.envelope.id != second.envelope.id


def test_a_fulfillment_without_tracking_number_is_no_shipment() -> None:
    raw = body_of(PYTHON_API / "fulfillment.json")
    raw["tracking_number"] = None
    raw["tracking_numbers"] = []

    assert deliver("fulfillments/create", raw) == []


@pytest.mark.parametrize(("shipment_status", "expected"), sorted(SHIPMENT_STATUSES.items()))
def test_shipment_status_table(shipment_status: str, expected: TrackingStatus) -> None:
    raw = body_of(GADGET / "fulfillments__update.2026-04.json")
    raw["shipment_status"] = shipment_status

    shipment, tracking = canonical(deliver("fulfillments/update", raw))

    assert shipment.type is EventType.SHIPMENT_CREATED
    assert tracking.type is EventType.SHIPMENT_TRACKING
    assert tracking.payload.model_dump()["status"] is expected
    assert tracking.envelope.id != shipment.envelope.id


def test_an_unknown_shipment_status_still_records_the_shipment() -> None:
    raw = body_of(GADGET / "fulfillments__update.2026-04.json")
    raw["shipment_status"] = "teleported"

    assert [e.type for e in canonical(deliver("fulfillments/update", raw))] == [
        EventType.SHIPMENT_CREATED
    ]


@pytest.mark.parametrize(
    "path", [GADGET / "refunds__create.2026-04.json", PYTHON_API / "refund.json"], ids=str
)
def test_a_refund_is_a_refund_of_the_money_its_successful_transactions_moved(path: Path) -> None:
    raw = body_of(path)
    moved = sum(
        Decimal(t["amount"])
        for t in raw["transactions"]
        if t["kind"] == "refund" and t["status"] == "success"
    )

    (refund,) = canonical(deliver("refunds/create", raw))

    assert refund.type is EventType.ORDER_REFUND
    assert refund.payload.model_dump() == {
        "refund_ref": str(raw["id"]),
        "order_ref": str(raw["order_id"]),
        "order_keys": [],
        "amount_minor": int(moved * 100),
        "currency": "USD",
        "reason": raw["note"],
    }
    assert refund.envelope.time == shopify_time(raw.get("processed_at") or raw["created_at"])


def test_a_refund_is_never_a_second_payment() -> None:
    raw = body_of(GADGET / "refunds__create.2026-04.json")

    events = canonical(deliver("refunds/create", raw))

    assert EventType.PAYMENT_UPDATED not in [e.type for e in events]


def test_a_refund_that_moved_no_money_maps_to_nothing() -> None:
    raw = body_of(PYTHON_API / "refund.json")
    for transaction in raw["transactions"]:
        transaction["status"] = "failure"

    assert deliver("refunds/create", raw) == []


def test_an_inventory_level_is_keyed_by_its_inventory_item_not_a_made_up_sku() -> None:
    raw = body_of(PYTHON_API / "inventory_level.json")

    (level,) = canonical(deliver("inventory_levels/update", raw))

    assert level.payload.model_dump() == {
        "sku": None,
        "item_key": {"kind": "shopify.inventory_item", "value": str(raw["inventory_item_id"])},
        "location": str(raw["location_id"]),
        "available": raw["available"],
        "on_hand": None,
    }


def test_header_names_are_case_insensitive_and_event_id_is_a_fallback() -> None:
    raw = json.dumps(body_of(PYTHON_API / "order.json")).encode()

    events = ADAPTER.to_events(
        headers={"x-shopify-topic": "orders/create", "X-SHOPIFY-EVENT-ID": "ev-9"}, body=raw
    )

    assert [e["id"] for e in events] == ["ev-9"]


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        (
            {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "w"},
            (PYTHON_API / "order.json").read_bytes()[:-40],
            "not valid JSON",
        ),
        ({"X-Shopify-Webhook-Id": "w"}, b"{}", "no X-Shopify-Topic"),
        ({"X-Shopify-Topic": "orders/create"}, b"{}", "neither X-Shopify-Webhook-Id"),
        (
            {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "w"},
            b'{"currency": "USD", "total_price": "1.00"}',
            "order.id is missing",
        ),
        (
            {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "w"},
            (GADGET / "2025-04__orders__1.json").read_bytes(),
            "example string",
        ),
        (
            {"X-Shopify-Topic": "refunds/create", "X-Shopify-Webhook-Id": "w"},
            b'{"id": 1, "refund_line_items": [], "transactions": []}',
            "refund.order_id is missing",
        ),
        (
            {"X-Shopify-Topic": "refunds/create", "X-Shopify-Webhook-Id": "w"},
            b'{"order_id": 1, "refund_line_items": [], "transactions": []}',
            "refund.id is missing",
        ),
        (
            {"X-Shopify-Topic": "refunds/create", "X-Shopify-Webhook-Id": "w"},
            b'{"id": 1, "order_id": 1, "refund_line_items": [], "transactions": {"a": 1}}',
            "refund.transactions is not a list",
        ),
        (
            {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "w"},
            b'{"id": 1, "currency": "USD", "total_price": "1.00", '
            b'"created_at": "2026-01-01T00:00:00Z", "line_items": {"sku": "A"}}',
            "order.line_items is not a list",
        ),
    ],
    ids=[
        "truncated",
        "no-topic",
        "no-id",
        "no-order-id",
        "anonymised-prices",
        "refund-no-order",
        "refund-no-id",
        "refund-transactions-not-a-list",
        "lines-not-a-list",
    ],
)
def test_malformed_deliveries_are_refused_with_a_reason(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        ADAPTER.to_events(headers=headers, body=body)


def test_an_unknown_topic_is_unsupported() -> None:
    with pytest.raises(UnsupportedEvent, match="returns/request"):
        deliver("returns/request", b"{}")
