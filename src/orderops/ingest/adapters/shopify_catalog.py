"""Shopify's catalogue and stock: products, inventory items, inventory levels.

Shopify keys stock by inventory item and location, never by SKU. The catalogue topics
are what say which SKU an inventory item is (each product variant has one inventory
item), so they map to ``catalog.item`` events naming the SKU with its Shopify ids, and a
stock level goes out keyed by its inventory item for resolve to turn into that SKU.
"""

from __future__ import annotations

from datetime import datetime

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.ingest.adapters.common import (
    JsonObject,
    external_keys,
    opt_text,
    opt_time,
    parse_time,
    text,
)
from orderops.ingest.adapters.shopify_fields import (
    ShopifyDelivery,
    shopify_event,
    variant_sku,
    version_time,
)

DEFAULT_VARIANT_TITLE = "Default Title"
"""The title Shopify gives the only variant of a product without options."""


def map_product(raw: JsonObject, delivery: ShopifyDelivery) -> list[JsonObject]:
    """One catalogue item per variant: its SKU (or the variant stand-in order lines use)
    named by the variant id and its inventory item id."""
    where = "product"
    product_id = text(raw, "id", where=where)
    variants = raw.get("variants")
    if not isinstance(variants, list):
        raise InvalidEvent("product.variants is missing or not a list")
    product_time = opt_time(
        raw.get("updated_at") or raw.get("created_at"), where="product.updated_at"
    )
    title = opt_text(raw, "title")
    events = []
    for index, variant in enumerate(variants):
        place = f"product.variants[{index}]"
        if not isinstance(variant, dict):
            raise InvalidEvent(f"{place} is not an object")
        variant_id = text(variant, "id", where=place)
        inventory_item = opt_text(variant, "inventory_item_id")
        data = {
            "sku": variant_sku(opt_text(variant, "sku"), variant_id),
            "title": _variant_title(title, opt_text(variant, "title")),
            "aliases": external_keys(
                [("shopify.variant", variant_id), ("shopify.inventory_item", inventory_item)]
            ),
        }
        time = _latest(product_time, variant, place)
        event_id = f"{delivery.id}:{variant_id}"
        events.append(shopify_event(event_id, EventType.CATALOG_ITEM, time, product_id, data))
    return events


def map_inventory_item(raw: JsonObject, delivery: ShopifyDelivery) -> list[JsonObject]:
    """An inventory item's SKU. An item without one maps to nothing: the product topics
    name it, with the variant stand-in SKU, through its variant."""
    item = text(raw, "id", where="inventory_item")
    sku = opt_text(raw, "sku")
    if sku is None:
        return []
    data = {"sku": sku, "aliases": external_keys([("shopify.inventory_item", item)])}
    time = version_time(raw, "inventory_item")
    return [shopify_event(delivery.id, EventType.CATALOG_ITEM, time, sku, data)]


def map_inventory_level(raw: JsonObject, delivery: ShopifyDelivery) -> list[JsonObject]:
    """Stock of one inventory item at one location, keyed by the item: resolve reads the
    SKU from the catalogue. ``available`` null means the item is not stocked there, so
    there is no level to record."""
    where = "inventory_level"
    item = text(raw, "inventory_item_id", where=where)
    location = text(raw, "location_id", where=where)
    available = raw.get("available")
    if available is None:
        return []
    if isinstance(available, bool) or not isinstance(available, int):
        raise InvalidEvent(f"inventory_level.available is not a whole number: {available!r}")
    data = {
        "item_key": {"kind": "shopify.inventory_item", "value": item},
        "location": location,
        "available": available,
    }
    time = parse_time(raw.get("updated_at"), where="inventory_level.updated_at")
    return [shopify_event(delivery.id, EventType.INVENTORY_LEVEL, time, None, data)]


def _variant_title(product: str | None, variant: str | None) -> str | None:
    if variant is None or variant == DEFAULT_VARIANT_TITLE:
        return product
    return f"{product} - {variant}" if product else variant


def _latest(product_time: datetime | None, variant: JsonObject, place: str) -> datetime:
    """The later of the product's and the variant's version: either may be what changed."""
    variant_time = opt_time(variant.get("updated_at"), where=f"{place}.updated_at")
    times = [t for t in (product_time, variant_time) if t is not None]
    if not times:
        raise InvalidEvent("product.updated_at is missing")
    return max(times)
