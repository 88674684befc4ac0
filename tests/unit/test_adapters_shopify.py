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
from orderops.domain.statuses import PaymentStatus, TrackingStatus
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
        (GADGET / "orders__paid.2026-04.json", "orders/paid", []),
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
        (GADGET / "refunds__create.2026-04.json", "refunds/create", [EventType.PAYMENT_UPDATED]),
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
        (PYTHON_API / "refund.json", "refunds/create", [EventType.PAYMENT_UPDATED]),
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
    assert data["total_minor"] == int(Decimal(raw["current_total_price"]) * 100)
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
def test_a_refund_reports_the_money_its_successful_transactions_moved(path: Path) -> None:
    raw = body_of(path)
    moved = sum(
        Decimal(t["amount"])
        for t in raw["transactions"]
        if t["kind"] == "refund" and t["status"] == "success"
    )

    (payment,) = canonical(deliver("refunds/create", raw))
    data = payment.payload.model_dump()

    assert data["status"] is PaymentStatus.PARTIALLY_REFUNDED
    assert data["amount_refunded_minor"] == int(moved * 100)
    assert data["order_ref"] == str(raw["order_id"])
    assert data["currency"] == "USD"


def test_a_refund_that_moved_no_money_maps_to_nothing() -> None:
    raw = body_of(PYTHON_API / "refund.json")
    for transaction in raw["transactions"]:
        transaction["status"] = "failure"

    assert deliver("refunds/create", raw) == []


def test_an_inventory_level_names_item_location_and_quantity() -> None:
    raw = body_of(PYTHON_API / "inventory_level.json")

    (level,) = canonical(deliver("inventory_levels/update", raw))

    assert level.payload.model_dump() == {
        "sku": f"shopify-item-{raw['inventory_item_id']}",
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
            b'{"id": 1, "transactions": []}',
            "refund.order_id is missing",
        ),
    ],
    ids=["truncated", "no-topic", "no-id", "no-order-id", "anonymised-prices", "refund-no-order"],
)
def test_malformed_deliveries_are_refused_with_a_reason(
    headers: dict[str, str], body: bytes, reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        ADAPTER.to_events(headers=headers, body=body)


def test_an_unknown_topic_is_unsupported() -> None:
    with pytest.raises(UnsupportedEvent, match="returns/request"):
        deliver("returns/request", b"{}")
