"""Shopify webhooks that are not about one order: the catalogue, stock, customers and
fulfillment holds.

``inventory_levels/update`` names only the inventory item and the location; which SKU
the item is comes from ``products/*`` (variants carry ``inventory_item_id``) and
``inventory_items/*``. ``fulfillment_orders/*`` arrive in Shopify's thin shape: the
fulfillment order's gid and its holds, never the order.

Shapes follow tests/fixtures/shopify/webhook_examples_gadget (products, inventory_items,
inventory_levels, customers, fulfillment_orders).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderops.sim.providers.shopify import VENDOR, ShopifyWire, customer_json, gid
from orderops.sim.providers.stock import LevelChange
from orderops.sim.providers.story import HoldStory, Item, OrderStory
from orderops.sim.providers.wire import Draft, money, shop_time


def product_json(
    item: Item, created: datetime, updated: datetime, tags: str = ""
) -> dict[str, Any]:
    stamp = {"created_at": shop_time(created), "updated_at": shop_time(updated)}
    return {
        "id": item.product_id,
        "admin_graphql_api_id": gid("Product", item.product_id),
        "title": item.title,
        "body_html": f"<p>{item.title} from the {item.category} collection.</p>",
        "vendor": VENDOR,
        "product_type": item.category.title(),
        "handle": item.title.lower().replace(" ", "-"),
        **stamp,
        "published_at": shop_time(created),
        "template_suffix": None,
        "published_scope": "global",
        "tags": tags,
        "status": "active",
        "variants": [
            {
                "id": item.variant_id,
                "admin_graphql_api_id": gid("ProductVariant", item.variant_id),
                "product_id": item.product_id,
                "title": "Default Title",
                "price": money(item.price_minor),
                "position": 1,
                "inventory_policy": "deny",
                "compare_at_price": None,
                "option1": "Default Title",
                "option2": None,
                "option3": None,
                **stamp,
                "taxable": True,
                "barcode": None,
                "sku": item.sku,
                "inventory_item_id": item.inventory_item_id,
                "image_id": None,
            }
        ],
        "options": [
            {
                "id": item.product_id + 1,
                "product_id": item.product_id,
                "name": "Title",
                "position": 1,
                "values": ["Default Title"],
            }
        ],
        "category": None,
        "has_variants_that_requires_components": False,
        "media": [],
        "images": [],
        "image": None,
        "variant_gids": [
            {
                "admin_graphql_api_id": gid("ProductVariant", item.variant_id),
                "updated_at": stamp["updated_at"],
            }
        ],
    }


def inventory_item_json(item: Item, created: datetime, updated: datetime) -> dict[str, Any]:
    return {
        "id": item.inventory_item_id,
        "admin_graphql_api_id": gid("InventoryItem", item.inventory_item_id),
        "sku": item.sku,
        "created_at": shop_time(created),
        "updated_at": shop_time(updated),
        "requires_shipping": True,
        "cost": money(item.price_minor * 2 // 5),
        "country_code_of_origin": "US",
        "province_code_of_origin": None,
        "harmonized_system_code": None,
        "tracked": True,
        "weight_unit": "KILOGRAMS",
        "weight_value": 0.45,
        "country_harmonized_system_codes": [],
    }


def level_json(change: LevelChange) -> dict[str, Any]:
    item, location = change.item.inventory_item_id, change.location.location_id
    return {
        "inventory_item_id": item,
        "location_id": location,
        "available": change.available,
        "updated_at": shop_time(change.at),
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}",
    }


def hold_json(hold: HoldStory, order: OrderStory) -> dict[str, Any]:
    fo = gid("FulfillmentOrder", hold.fulfillment_order_id)
    created = {
        "id": gid("FulfillmentHold", hold.fulfillment_order_id + 5),
        "reason": hold.reason,
        "reason_notes": hold.note,
        "held_by_requesting_app": False,
        "handle": f"hold-{hold.fulfillment_order_id % 100000}",
        "held_by_app": None,
    }
    return {
        "fulfillment_order": {"id": fo, "status": "on_hold", "fulfillment_holds": [created]},
        "remaining_fulfillment_order": None,
        "held_fulfillment_order_line_items": [
            {"id": gid("FulfillmentOrderLineItem", line.line_id + 3), "quantity": line.quantity}
            for line in order.lines
        ],
        "created_fulfillment_hold": created,
    }


class CatalogRenderer:
    def __init__(self, wire: ShopifyWire) -> None:
        self._wire = wire

    def opening(self, catalogue: tuple[Item, ...], at: datetime) -> list[Draft]:
        drafts = []
        for item in catalogue:
            drafts.append(
                self._wire.draft(
                    "products/create", at, product_json(item, at, at), f"product:{item.product_id}"
                )
            )
            drafts.append(
                self._wire.draft(
                    "inventory_items/create",
                    at,
                    inventory_item_json(item, at, at),
                    f"item:{item.inventory_item_id}",
                )
            )
        return drafts

    def product_update(self, item: Item, opened: datetime, at: datetime) -> list[Draft]:
        """A merchandiser edits a product (tags, copy): noise that names every id again."""
        body = product_json(item, opened, at, tags="summer-sale")
        item_body = inventory_item_json(item, opened, at)
        return [
            self._wire.draft("products/update", at, body, f"product:{item.product_id}"),
            self._wire.draft(
                "inventory_items/update", at, item_body, f"item:{item.inventory_item_id}"
            ),
        ]

    def level(self, change: LevelChange) -> Draft:
        key = f"level:{change.item.inventory_item_id}:{change.location.location_id}"
        return self._wire.draft("inventory_levels/update", change.at, level_json(change), key)

    def customer(self, order: OrderStory, since: datetime, at: datetime, created: bool) -> Draft:
        topic = "customers/create" if created else "customers/update"
        body = customer_json(order.customer, since, at)
        body["addresses"] = [body["default_address"]]
        return self._wire.draft(topic, at, body, f"customer:{order.customer.ref}", order.order_id)

    def holds(self, order: OrderStory) -> list[Draft]:
        hold = order.hold
        if hold is None:
            return []
        key = f"fulfillment_order:{hold.fulfillment_order_id}"
        drafts = [
            self._wire.draft(
                "fulfillment_orders/placed_on_hold",
                hold.placed_at,
                hold_json(hold, order),
                key,
                order.order_id,
            )
        ]
        if hold.released_at is not None:
            body = {
                "fulfillment_order": {
                    "id": gid("FulfillmentOrder", hold.fulfillment_order_id),
                    "status": "open",
                }
            }
            drafts.append(
                self._wire.draft(
                    "fulfillment_orders/hold_released", hold.released_at, body, key, order.order_id
                )
            )
        return drafts
