"""Shopify fulfillments and fulfillment orders to shipments, tracking and holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.domain.statuses import TrackingStatus
from orderops.ingest.adapters.common import (
    JsonObject,
    external_keys,
    opt_obj,
    opt_text,
    opt_time,
    parse_time,
    text,
)
from orderops.ingest.adapters.shopify_fields import ShopifyDelivery, shopify_event, version_time

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

FULFILLMENT_ORDER_GID = "gid://shopify/FulfillmentOrder/"
ORDER_GID = "gid://shopify/Order/"
MAX_REASONS = 20
"""As many hold reasons as a hold record keeps; Shopify has fewer kinds than that."""

WRAPPERS = (
    "fulfillment_order",
    "submitted_fulfillment_order",
    "original_fulfillment_order",
    "fulfillment_order_merges",
)
"""Where each fulfillment-order topic puts the fulfillment order it is about: most under
``fulfillment_order``; a submitted request under ``submitted_fulfillment_order``; a move
under ``original_fulfillment_order`` (the one that changed state); a merge under
``fulfillment_order_merges.fulfillment_order``."""


def map_fulfillment(raw: JsonObject, delivery: ShopifyDelivery) -> list[JsonObject]:
    """One shipment per tracking number, plus its tracking state when Shopify knows it.

    A fulfillment without any tracking number (local delivery, digital goods) has
    nothing a carrier can follow, so it maps to no event. The fulfillment id names the
    shipment of its first number (Shopify's own ``tracking_number``); each shipment is
    also named by its tracking code, which is all a carrier's webhook will name.
    """
    where = "fulfillment"
    fulfillment_id = text(raw, "id", where=where)
    order_ref = text(raw, "order_id", where=where)
    numbers = _tracking_numbers(raw)
    carrier = opt_text(raw, "tracking_company") or "unknown"
    time = version_time(raw, where)
    status = SHIPMENT_STATUSES.get((opt_text(raw, "shipment_status") or "").lower())
    events: list[JsonObject] = []
    for index, number in enumerate(numbers):
        suffix = "" if len(numbers) == 1 else f":{index}"
        own_id = fulfillment_id if index == 0 else None
        shipment = {
            "shipment_ref": fulfillment_id + suffix,
            "order_ref": order_ref,
            "carrier": carrier,
            "service": opt_text(raw, "service"),
            "tracking_number": number,
            "origin_location": opt_text(raw, "location_id"),
            "aliases": external_keys([("shopify.fulfillment", own_id), ("tracking", number)]),
        }
        events.append(
            shopify_event(
                delivery.id + suffix, EventType.SHIPMENT_CREATED, time, order_ref, shipment
            )
        )
        if status is not None:
            tracking = {
                "tracking_number": number,
                "carrier": carrier,
                "status": status,
                "occurred_at": time,
            }
            tracking_id = f"{delivery.id}{suffix}:tracking"
            events.append(
                shopify_event(tracking_id, EventType.SHIPMENT_TRACKING, time, order_ref, tracking)
            )
    return events


def map_fulfillment_order(raw: JsonObject, delivery: ShopifyDelivery) -> list[JsonObject]:
    """A fulfillment order's status and holds, from any fulfillment_orders/* topic.

    The real bodies are thin: ``{"fulfillment_order": {"id": "gid://...", "status":
    "on_hold", "fulfillment_holds": [...]}}`` with no order id and no time. The status is
    read from the signed body, never from the topic, so the same body means the same
    thing under any fulfillment-order topic. The order is named when the body names it
    (``order_id``, as the REST resource does); otherwise the fulfillment order's id is the
    key resolve must tie to an order. The time is the body's ``updated_at`` when it has
    one, else ``X-Shopify-Triggered-At``: unsigned, but the only time Shopify gives.
    """
    fulfillment_order = _wrapped_fulfillment_order(raw)
    where = "fulfillment_order"
    ref = _gid(text(fulfillment_order, "id", where=where))
    status = text(fulfillment_order, "status", where=where).lower()
    holds = fulfillment_order.get("fulfillment_holds")
    if holds is not None and not isinstance(holds, list):
        raise InvalidEvent("fulfillment_order.fulfillment_holds is not a list")
    hold_objects = [h for h in holds or [] if isinstance(h, dict)]
    reasons = [r for r in (opt_text(h, "reason") for h in hold_objects) if r]
    notes = [n for n in (opt_text(h, "reason_notes") for h in hold_objects) if n]
    order_ref = _bare_order_id(opt_text(fulfillment_order, "order_id") or opt_text(raw, "order_id"))
    data: dict[str, Any] = {
        "fulfillment_order_ref": ref,
        "order_ref": order_ref,
        "order_keys": external_keys([("shopify.fulfillment_order", ref)]),
        "status": status,
        "reasons": list(dict.fromkeys(reasons))[:MAX_REASONS],
        "note": "; ".join(dict.fromkeys(notes)) or opt_text(raw, "message"),
    }
    time = _fulfillment_order_time(fulfillment_order, delivery)
    return [shopify_event(delivery.id, EventType.FULFILLMENT_HOLD, time, order_ref or ref, data)]


def _wrapped_fulfillment_order(raw: JsonObject) -> JsonObject:
    for key in WRAPPERS:
        value = raw.get(key)
        if key == "fulfillment_order_merges":
            merges = value if isinstance(value, list) else [value]
            value = next(
                (opt_obj(m, "fulfillment_order") for m in merges if isinstance(m, dict)), None
            )
        if value is None:
            continue
        if not isinstance(value, dict):
            raise InvalidEvent(f"{key} is not an object")
        return value
    raise InvalidEvent("the body wraps no fulfillment_order object")


def _gid(value: str) -> str:
    """The fulfillment order's global id, also when a REST body gives the bare number:
    both shapes then name it by one key."""
    return FULFILLMENT_ORDER_GID + value if value.isdigit() else value


def _bare_order_id(value: str | None) -> str | None:
    """An order's canonical ref is its bare Shopify id, also when named by its gid."""
    if value is not None and value.startswith(ORDER_GID):
        return value.removeprefix(ORDER_GID) or None
    return value


def _fulfillment_order_time(fulfillment_order: JsonObject, delivery: ShopifyDelivery) -> datetime:
    own = opt_time(fulfillment_order.get("updated_at"), where="fulfillment_order.updated_at")
    if own is not None:
        return own
    if not delivery.triggered_at:
        raise InvalidEvent(
            "fulfillment_order has no updated_at and the delivery no X-Shopify-Triggered-At: "
            "nothing dates the change"
        )
    return parse_time(delivery.triggered_at, where="X-Shopify-Triggered-At")


def _tracking_numbers(raw: JsonObject) -> list[str]:
    listed = raw.get("tracking_numbers")
    numbers: list[str] = []
    for value in [raw.get("tracking_number"), *(listed if isinstance(listed, list) else [])]:
        if isinstance(value, str) and value.strip() and value.strip() not in numbers:
            numbers.append(value.strip())
    return numbers
