"""Shopify Admin webhooks (REST JSON bodies) to canonical events.

The topic travels in the X-Shopify-Topic header, not the body, and the body is the bare
resource (an order, a fulfillment, a refund, a product, ...). The envelope id is the
delivery's own id header, so Shopify's retries of one delivery dedupe in the inbox.

Shopify's HMAC covers the body only: the topic and the webhook id beside it are not
signed, so a captured body can be resent under any topic with a fresh id. A delivery
therefore means only what its signed body proves. Each topic's mapping first checks that
the body is the resource that topic carries (``TopicMismatch`` otherwise), and a
cancellation needs the body's own ``cancelled_at``. A body already accepted under
another topic is caught by the webhook intake (``are_companion_topics`` says which topics
Shopify itself sends with the same bytes). The tables behind both live in
``shopify_topics``; the mappings in ``shopify_orders``, ``shopify_fulfillment``,
``shopify_catalog`` and ``shopify_fields``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.ingest.adapters.common import JsonObject, UnsupportedEvent, load_object
from orderops.ingest.adapters.shopify_catalog import (
    map_inventory_item,
    map_inventory_level,
    map_product,
)
from orderops.ingest.adapters.shopify_fields import SOURCE, ShopifyDelivery, map_customer
from orderops.ingest.adapters.shopify_fulfillment import (
    SHIPMENT_STATUSES,
    map_fulfillment,
    map_fulfillment_order,
)
from orderops.ingest.adapters.shopify_orders import (
    map_cancelled,
    map_dispute,
    map_order,
    map_refund,
)
from orderops.ingest.adapters.shopify_topics import (
    COMPANION_TOPICS,
    FULFILLMENT_ORDER_TOPICS,
    IGNORED_TOPICS,
    ORDER_STATE_TOPICS,
    RESOURCE_MARKS,
    TOPIC_HEADER,
    TOPIC_RESOURCES,
    TopicMismatch,
    are_companion_topics,
    check_topic,
    topic_of,
)
from orderops.ingest.signatures import lower_headers, verify_shopify

__all__ = [
    "COMPANION_TOPICS",
    "IGNORED_TOPICS",
    "MAPPERS",
    "RESOURCE_MARKS",
    "SHIPMENT_STATUSES",
    "SOURCE",
    "TOPIC_HEADER",
    "TOPIC_RESOURCES",
    "ShopifyAdapter",
    "TopicMismatch",
    "are_companion_topics",
    "check_topic",
    "topic_of",
]

Mapper = Callable[[JsonObject, ShopifyDelivery], list[JsonObject]]


def _order_state(type_: EventType) -> Mapper:
    return lambda raw, delivery: map_order(raw, type_, delivery)


MAPPERS: dict[str, Mapper] = {
    **{
        topic: _order_state(
            EventType.ORDER_PLACED if topic == "orders/create" else EventType.ORDER_UPDATED
        )
        for topic in ORDER_STATE_TOPICS
    },
    "orders/cancelled": map_cancelled,
    "fulfillments/create": map_fulfillment,
    "fulfillments/update": map_fulfillment,
    "refunds/create": map_refund,
    "inventory_levels/connect": map_inventory_level,
    "inventory_levels/update": map_inventory_level,
    "products/create": map_product,
    "products/update": map_product,
    "inventory_items/create": map_inventory_item,
    "inventory_items/update": map_inventory_item,
    "customers/create": map_customer,
    "customers/update": map_customer,
    "customers/enable": map_customer,
    "customers/disable": map_customer,
    "disputes/create": map_dispute,
    **dict.fromkeys(FULFILLMENT_ORDER_TOPICS, map_fulfillment_order),
}
"""One mapping per topic in ``TOPIC_RESOURCES`` (a test holds the two key sets equal)."""


class ShopifyAdapter:
    source = SOURCE

    def verify(
        self, *, headers: Mapping[str, str], body: bytes, secret: str, now: datetime
    ) -> None:
        verify_shopify(headers=headers, body=body, secret=secret)

    def to_events(self, *, headers: Mapping[str, str], body: bytes) -> list[JsonObject]:
        lowered = lower_headers(headers)
        topic = topic_of(headers)
        if topic is None:
            raise InvalidEvent("shopify delivery has no X-Shopify-Topic header")
        mapper = MAPPERS.get(topic)
        if mapper is None:
            if topic in IGNORED_TOPICS:
                return []
            raise UnsupportedEvent(f"shopify topic {topic!r} is not supported")
        delivery_id = lowered.get("x-shopify-webhook-id") or lowered.get("x-shopify-event-id")
        if not delivery_id or not delivery_id.strip():
            raise InvalidEvent("shopify delivery has neither X-Shopify-Webhook-Id nor Event-Id")
        raw = load_object(body, provider=SOURCE)
        check_topic(topic, raw)
        delivery = ShopifyDelivery(
            topic=topic,
            id=delivery_id.strip(),
            triggered_at=(lowered.get("x-shopify-triggered-at") or "").strip() or None,
            shop=(lowered.get("x-shopify-shop-domain") or "").strip().lower()[:64] or None,
        )
        return mapper(raw, delivery)
