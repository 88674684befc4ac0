"""Shopify Admin webhooks (REST JSON bodies) to canonical events.

The topic travels in the X-Shopify-Topic header, not the body, and the body is the bare
resource (an order, a fulfillment, a refund, an inventory level). The envelope id is the
delivery's own id header, so Shopify's retries of one delivery dedupe in the inbox.

Shopify's HMAC covers the body only: the topic and the webhook id beside it are not
signed, so a captured body can be resent under any topic with a fresh id. A delivery
therefore means only what its signed body proves. Each topic's mapping first checks that
the body is the resource that topic carries (``TopicMismatch`` otherwise), and a
cancellation needs the body's own ``cancelled_at``. A body already accepted under
another topic is caught by the webhook intake (``are_companion_topics`` says which topics
Shopify itself sends with the same bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.ingest.adapters.common import (
    JsonObject,
    UnsupportedEvent,
    event,
    load_object,
    opt_obj,
    opt_text,
    opt_time,
    parse_time,
    text,
    to_minor,
)
from orderops.ingest.signatures import lower_headers, verify_shopify

SOURCE = "shopify"

SHIPMENT_STATUSES: dict[str, TrackingStatus] = {
    "label_printed": TrackingStatus.LABEL_CREATED,
    "label_purchased": TrackingStatus.LABEL_CREATED,
    "confirmed": TrackingStatus.LABEL_CREATED,
    "carrier_picked_up": TrackingStatus.IN_TRANSIT,
    "picked_up": TrackingStatus.IN_TRANSIT,
    "in_transit": TrackingStatus.IN_TRANSIT,
    "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    "ready_for_pickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "attempted_delivery": TrackingStatus.FAILED_ATTEMPT,
    "delivered": TrackingStatus.DELIVERED,
    "delayed": TrackingStatus.EXCEPTION,
    "failure": TrackingStatus.EXCEPTION,
}
"""Fulfillment ``shipment_status`` (Shopify's carrier-fed summary) to our vocabulary."""

IGNORED_TOPICS = frozenset(
    {
        "orders/paid",
        "orders/fulfilled",
        "orders/partially_fulfilled",
        "orders/edited",
        "orders/delete",
        "order_transactions/create",
        "fulfillment_events/create",
    }
)
"""Topics Shopify may deliver to us that the order/fulfillment topics already cover."""

TOPIC_HEADER = "x-shopify-topic"


class TopicMismatch(InvalidEvent):
    """The signed body is not what the unsigned topic header claims it is.

    Shopify never sends such a delivery, so it is treated like a forgery: refused and
    dead-lettered with the reason, never mapped under the claimed topic.
    """

    code = "webhook-topic-mismatch"


RESOURCE_MARKS: dict[str, frozenset[str]] = {
    "order": frozenset({"financial_status", "total_price", "current_total_price", "currency"}),
    "fulfillment": frozenset(
        {"tracking_number", "tracking_numbers", "tracking_company", "shipment_status"}
    ),
    "refund": frozenset({"refund_line_items", "transactions", "order_adjustments"}),
    "inventory_level": frozenset({"inventory_item_id"}),
}
"""Top-level keys only one resource's webhook body carries (orders name their money and
currency, fulfillments their tracking, refunds their refunded lines and transactions,
inventory levels their item). A body must carry a mark of its topic's resource and none
of another's; fields every resource shares (id, created_at, order_id) prove nothing."""

TOPIC_RESOURCES: dict[str, str] = {
    "orders/create": "order",
    "orders/updated": "order",
    "orders/cancelled": "order",
    "fulfillments/create": "fulfillment",
    "fulfillments/update": "fulfillment",
    "refunds/create": "refund",
    "inventory_levels/update": "inventory_level",
}

COMPANION_TOPICS: frozenset[frozenset[str]] = frozenset(
    {
        frozenset({"orders/create", "orders/updated"}),
        frozenset({"orders/cancelled", "orders/updated"}),
        frozenset({"fulfillments/create", "fulfillments/update"}),
    }
)
"""Topics Shopify fires together for one change, with the same resource serialised the
same way: orders/updated beside every other order topic, and a fulfillment's create and
update. The same bytes under two of these are ordinary traffic, not a replay; refusing
them would drop a real cancellation and make Shopify retry (and eventually unsubscribe)."""


def topic_of(headers: Mapping[str, str]) -> str | None:
    """The claimed topic, normalised as the mappers read it (None without the header)."""
    topic = (lower_headers(headers).get(TOPIC_HEADER) or "").strip().lower()
    return topic or None


def are_companion_topics(first: str, second: str) -> bool:
    """Whether Shopify itself may deliver the same body under both topics."""
    return first == second or frozenset({first, second}) in COMPANION_TOPICS


def check_topic(topic: str, raw: JsonObject) -> None:
    """Refuse a body that is not the resource ``topic`` carries (see ``RESOURCE_MARKS``)."""
    wanted = TOPIC_RESOURCES[topic]
    keys = raw.keys()
    foreign = sorted(
        name for name, marks in RESOURCE_MARKS.items() if name != wanted and marks & keys
    )
    if foreign or not RESOURCE_MARKS[wanted] & keys:
        looks_like = f"; it looks like a {' / '.join(foreign)}" if foreign else ""
        raise TopicMismatch(
            f"X-Shopify-Topic says {topic} but the signed body is not a {wanted}{looks_like}"
        )


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
        mapper = _MAPPERS.get(topic)
        if mapper is None:
            if topic in IGNORED_TOPICS:
                return []
            raise UnsupportedEvent(f"shopify topic {topic!r} is not supported")
        delivery_id = lowered.get("x-shopify-webhook-id") or lowered.get("x-shopify-event-id")
        if not delivery_id or not delivery_id.strip():
            raise InvalidEvent("shopify delivery has neither X-Shopify-Webhook-Id nor Event-Id")
        raw = load_object(body, provider=SOURCE)
        check_topic(topic, raw)
        return mapper(raw, delivery_id.strip())


def map_order(raw: JsonObject, type_: EventType, delivery_id: str) -> list[JsonObject]:
    where = "order"
    order_ref = text(raw, "id", where=where)
    currency = text(raw, "currency", where=where).upper()
    total = raw.get("current_total_price", raw.get("total_price"))
    if total is None:
        raise InvalidEvent("order.total_price is missing")
    data = {
        "order_ref": order_ref,
        "number": opt_text(raw, "name") or opt_text(raw, "order_number"),
        "customer": _customer(raw),
        "currency": currency,
        "total_minor": to_minor(total, currency, where="order.total_price"),
        "placed_at": parse_time(raw.get("created_at"), where="order.created_at"),
        "service_level": _service_level(raw),
        "location": opt_text(raw, "location_id"),
        "ship_to": _address(opt_obj(raw, "shipping_address")),
        "lines": _lines(raw, currency),
    }
    time = _version_time(raw, where)
    return [_event(delivery_id, type_, time, order_ref, data)]


def map_cancelled(raw: JsonObject, delivery_id: str) -> list[JsonObject]:
    """A cancellation the body itself proves: Shopify sets ``cancelled_at`` when it cancels.

    There is no fallback to ``updated_at``: an order body without ``cancelled_at`` is a
    live order, whatever the unsigned topic header says.
    """
    order_ref = text(raw, "id", where="order")
    time = opt_time(raw.get("cancelled_at"), where="order.cancelled_at")
    if time is None:
        raise TopicMismatch(
            "X-Shopify-Topic says orders/cancelled but the signed order body has no "
            "cancelled_at: the order is not cancelled"
        )
    data = {"order_ref": order_ref, "reason": opt_text(raw, "cancel_reason")}
    return [_event(delivery_id, EventType.ORDER_CANCELLED, time, order_ref, data)]


def map_fulfillment(raw: JsonObject, delivery_id: str) -> list[JsonObject]:
    """One shipment per tracking number, plus its tracking state when Shopify knows it.

    A fulfillment without any tracking number (local delivery, digital goods) has
    nothing a carrier can follow, so it maps to no event.
    """
    where = "fulfillment"
    fulfillment_id = text(raw, "id", where=where)
    order_ref = text(raw, "order_id", where=where)
    numbers = _tracking_numbers(raw)
    carrier = opt_text(raw, "tracking_company") or "unknown"
    time = _version_time(raw, where)
    status = SHIPMENT_STATUSES.get((opt_text(raw, "shipment_status") or "").lower())
    events: list[JsonObject] = []
    for index, number in enumerate(numbers):
        suffix = "" if len(numbers) == 1 else f":{index}"
        shipment = {
            "shipment_ref": fulfillment_id + suffix,
            "order_ref": order_ref,
            "carrier": carrier,
            "service": opt_text(raw, "service"),
            "tracking_number": number,
            "origin_location": opt_text(raw, "location_id"),
        }
        events.append(
            _event(delivery_id + suffix, EventType.SHIPMENT_CREATED, time, order_ref, shipment)
        )
        if status is not None:
            tracking = {
                "tracking_number": number,
                "carrier": carrier,
                "status": status,
                "occurred_at": time,
            }
            tracking_id = f"{delivery_id}{suffix}:tracking"
            events.append(
                _event(tracking_id, EventType.SHIPMENT_TRACKING, time, order_ref, tracking)
            )
    return events


def map_refund(raw: JsonObject, delivery_id: str) -> list[JsonObject]:
    """A refund's successful money movements as a payment update on the order.

    Shopify's refund body carries the refund, not the order total, so it cannot say
    whether the order is now fully refunded: it is reported as partially refunded with
    the exact amount, and the order's own ``financial_status`` (orders/updated) settles
    full versus partial. A refund that moved no money (restock only) maps to nothing.
    """
    where = "refund"
    order_ref = text(raw, "order_id", where=where)
    moved = [
        t
        for t in raw.get("transactions") or []
        if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") == "success"
    ]
    if not moved:
        return []
    currency = _refund_currency(raw, moved)
    amount = sum(
        to_minor(t.get("amount"), currency, where="refund.transactions.amount") for t in moved
    )
    data = {
        "payment_ref": f"shopify-order-{order_ref}",
        "order_ref": order_ref,
        "provider": SOURCE,
        "status": PaymentStatus.PARTIALLY_REFUNDED,
        "amount_minor": amount,
        "currency": currency,
        "amount_refunded_minor": amount,
    }
    time = parse_time(raw.get("processed_at") or raw.get("created_at"), where="refund.created_at")
    return [_event(delivery_id, EventType.PAYMENT_UPDATED, time, order_ref, data)]


def map_inventory_level(raw: JsonObject, delivery_id: str) -> list[JsonObject]:
    """Stock at one location. Shopify names the inventory item, not the SKU.

    The SKU field carries ``shopify-item-<inventory_item_id>``; linking that to a SKU
    needs the product catalogue, which this webhook does not include. ``available``
    null means the item is not stocked at the location, so there is no level to record.
    """
    where = "inventory_level"
    item = text(raw, "inventory_item_id", where=where)
    location = text(raw, "location_id", where=where)
    available = raw.get("available")
    if available is None:
        return []
    if isinstance(available, bool) or not isinstance(available, int):
        raise InvalidEvent(f"inventory_level.available is not a whole number: {available!r}")
    data = {"sku": f"shopify-item-{item}", "location": location, "available": available}
    time = parse_time(raw.get("updated_at"), where="inventory_level.updated_at")
    return [_event(delivery_id, EventType.INVENTORY_LEVEL, time, None, data)]


def _event(
    event_id: str, type_: EventType, time: datetime, subject: str | None, data: dict[str, Any]
) -> JsonObject:
    return event(
        source=SOURCE, event_id=event_id, type_=type_, time=time, subject=subject, data=data
    )


def _version_time(raw: JsonObject, where: str) -> datetime:
    return parse_time(raw.get("updated_at") or raw.get("created_at"), where=f"{where}.updated_at")


def _customer(raw: JsonObject) -> dict[str, Any] | None:
    customer = opt_obj(raw, "customer")
    if customer is None or opt_text(customer, "id") is None:
        return None
    names = [opt_text(customer, "first_name"), opt_text(customer, "last_name")]
    return {
        "customer_ref": opt_text(customer, "id"),
        "email": opt_text(customer, "email") or opt_text(raw, "email"),
        "phone": opt_text(customer, "phone") or opt_text(raw, "phone"),
        "name": " ".join(n for n in names if n) or None,
        "address": _address(opt_obj(customer, "default_address")),
    }


def _address(raw: JsonObject | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    names = [opt_text(raw, "first_name"), opt_text(raw, "last_name")]
    country = opt_text(raw, "country_code")
    return {
        "name": opt_text(raw, "name") or " ".join(n for n in names if n) or None,
        "line1": opt_text(raw, "address1"),
        "line2": opt_text(raw, "address2"),
        "city": opt_text(raw, "city"),
        "region": opt_text(raw, "province_code") or opt_text(raw, "province"),
        "postal_code": opt_text(raw, "zip"),
        "country": country.upper() if country and len(country) == 2 else None,
    }


def _lines(raw: JsonObject, currency: str) -> list[dict[str, Any]]:
    """Order lines; a line without a SKU is keyed by its variant so it stays matchable."""
    lines = []
    for item in raw.get("line_items") or []:
        if not isinstance(item, dict):
            raise InvalidEvent("order.line_items holds a non-object")
        quantity = item.get("quantity")
        if quantity == 0:
            continue
        sku = (
            opt_text(item, "sku")
            or _prefixed("shopify-variant-", opt_text(item, "variant_id"))
            or _prefixed("shopify-line-", opt_text(item, "id"))
        )
        lines.append(
            {
                "sku": sku,
                "title": opt_text(item, "title"),
                "quantity": quantity,
                "unit_price_minor": to_minor(
                    item.get("price"), currency, where="order.line_items.price"
                ),
            }
        )
    return lines


def _prefixed(prefix: str, value: str | None) -> str | None:
    return prefix + value if value else None


def _service_level(raw: JsonObject) -> str | None:
    for line in raw.get("shipping_lines") or []:
        if isinstance(line, dict):
            return opt_text(line, "code") or opt_text(line, "title")
    return None


def _tracking_numbers(raw: JsonObject) -> list[str]:
    numbers: list[str] = []
    for value in [raw.get("tracking_number"), *(raw.get("tracking_numbers") or [])]:
        if isinstance(value, str) and value.strip() and value.strip() not in numbers:
            numbers.append(value.strip())
    return numbers


def _refund_currency(raw: JsonObject, moved: list[JsonObject]) -> str:
    """The transaction's currency, else the shop currency named in any money set."""
    for transaction in moved:
        currency = opt_text(transaction, "currency")
        if currency:
            return currency.upper()
    candidates = [raw.get("total_duties_set")]
    for line in raw.get("refund_line_items") or []:
        if isinstance(line, dict):
            candidates.append(line.get("subtotal_set"))
    for money_set in candidates:
        if isinstance(money_set, dict):
            shop = opt_obj(money_set, "shop_money") or {}
            currency = opt_text(shop, "currency_code")
            if currency:
                return currency.upper()
    raise InvalidEvent("refund names no currency in its transactions or money sets")


_MAPPERS: dict[str, Callable[[JsonObject, str], list[JsonObject]]] = {
    "orders/create": lambda raw, d: map_order(raw, EventType.ORDER_PLACED, d),
    "orders/updated": lambda raw, d: map_order(raw, EventType.ORDER_UPDATED, d),
    "orders/cancelled": map_cancelled,
    "fulfillments/create": map_fulfillment,
    "fulfillments/update": map_fulfillment,
    "refunds/create": map_refund,
    "inventory_levels/update": map_inventory_level,
}
