"""Shopify orders, cancellations, refunds and disputes to canonical events.

An order carries every name other systems use for it: its id (the canonical order ref),
its name ("#1001") and number (1001), which tickets quote, and the checkout and cart
tokens, which a PaymentIntent created at checkout names before the order exists. They go
out as ``aliases`` so resolve can tie those records to the order.
"""

from __future__ import annotations

from typing import Any

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.ingest.adapters.common import (
    JsonObject,
    external_keys,
    opt_obj,
    opt_text,
    opt_time,
    parse_time,
    text,
    to_minor,
)
from orderops.ingest.adapters.shopify_fields import (
    SOURCE,
    ShopifyDelivery,
    address,
    customer_data,
    prefixed,
    shopify_event,
    variant_sku,
    version_time,
)
from orderops.ingest.adapters.shopify_topics import TopicMismatch


def map_order(raw: JsonObject, type_: EventType, delivery: ShopifyDelivery) -> list[JsonObject]:
    """The order as it stands. Its total is ``total_price``, what the customer was charged:
    ``current_total_price`` is what is left after refunds and edits (0 once refunded in
    full), and a refund is reported as a refund, never by shrinking the order."""
    where = "order"
    order_ref = text(raw, "id", where=where)
    currency = text(raw, "currency", where=where).upper()
    if raw.get("total_price") is None:
        raise InvalidEvent("order.total_price is missing")
    customer = opt_obj(raw, "customer")
    data = {
        "order_ref": order_ref,
        "number": opt_text(raw, "name") or opt_text(raw, "order_number"),
        "customer": customer_data(customer, fallback=raw)
        if customer is not None and opt_text(customer, "id") is not None
        else None,
        "currency": currency,
        "total_minor": to_minor(raw["total_price"], currency, where="order.total_price"),
        "placed_at": parse_time(raw.get("created_at"), where="order.created_at"),
        "service_level": _service_level(raw),
        "location": opt_text(raw, "location_id"),
        "ship_to": address(opt_obj(raw, "shipping_address")),
        "lines": _lines(raw, currency),
        "aliases": order_aliases(raw, order_ref),
        **_placement(raw, delivery),
    }
    time = version_time(raw, where)
    return [shopify_event(delivery.id, type_, time, order_ref, data)]


def _placement(raw: JsonObject, delivery: ShopifyDelivery) -> JsonObject:
    """Where the order sits for scopes (domain/scopes.py): its shop, its sales channel
    (``source_name``: web, pos, an app's id) and its tags (one comma-separated string).
    Only what is there: a longer channel than the schema takes is dropped, not refused."""
    placement: JsonObject = {}
    if delivery.shop:
        placement["store"] = delivery.shop
    channel = opt_text(raw, "source_name")
    if channel and len(channel) <= 64:
        placement["channel"] = channel
    tags = raw.get("tags")
    if isinstance(tags, str) and tags.strip():
        placement["tags"] = [t.strip() for t in tags.split(",") if t.strip()][:250]
    return placement


def order_aliases(raw: JsonObject, order_ref: str) -> list[JsonObject]:
    """Every other name of the order, surest first (ids and tokens before its number)."""
    transactions = raw.get("transactions")
    transaction_ids = [
        ("shopify.transaction", opt_text(t, "id"))
        for t in (transactions if isinstance(transactions, list) else [])
        if isinstance(t, dict)
    ]
    return external_keys(
        [
            ("shopify.order", order_ref),
            ("shopify.checkout_token", opt_text(raw, "checkout_token")),
            ("shopify.cart_token", opt_text(raw, "cart_token")),
            ("shopify.checkout", opt_text(raw, "checkout_id")),
            *transaction_ids,
            ("order.name", opt_text(raw, "name")),
            ("order.number", opt_text(raw, "order_number")),
        ]
    )


def map_cancelled(raw: JsonObject, delivery: ShopifyDelivery) -> list[JsonObject]:
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
    return [shopify_event(delivery.id, EventType.ORDER_CANCELLED, time, order_ref, data)]


def map_refund(raw: JsonObject, delivery: ShopifyDelivery) -> list[JsonObject]:
    """Money returned on an order: the sum of the refund's successful refund transactions.

    A refund is its own record, never a payment: read as a second payment it looked like
    a duplicate charge. A refund that moved no money (a restock only) maps to nothing.
    """
    where = "refund"
    refund_ref = text(raw, "id", where=where)
    order_ref = text(raw, "order_id", where=where)
    transactions = raw.get("transactions")
    if transactions is not None and not isinstance(transactions, list):
        raise InvalidEvent("refund.transactions is not a list")
    moved = [
        t
        for t in transactions or []
        if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") == "success"
    ]
    if not moved:
        return []
    currency = _refund_currency(raw, moved)
    amount = sum(
        to_minor(t.get("amount"), currency, where="refund.transactions.amount") for t in moved
    )
    data = {
        "refund_ref": refund_ref,
        "order_ref": order_ref,
        "amount_minor": amount,
        "currency": currency,
        "reason": opt_text(raw, "note"),
    }
    time = parse_time(raw.get("processed_at") or raw.get("created_at"), where="refund.created_at")
    return [shopify_event(delivery.id, EventType.ORDER_REFUND, time, order_ref, data)]


def map_dispute(raw: JsonObject, delivery: ShopifyDelivery) -> list[JsonObject]:
    """A Shopify Payments chargeback or inquiry opened on an order.

    It names the order itself, so the signal needs no resolving. Its detail has no Stripe
    id, so the desk marks the order disputed without offering a Stripe evidence pack.
    """
    where = "dispute"
    dispute_ref = text(raw, "id", where=where)
    order_ref = text(raw, "order_id", where=where)
    details = [
        f"{label}={value}"
        for label, value in (
            ("id", dispute_ref),
            ("source", "shopify_payments"),
            ("type", opt_text(raw, "type")),
            ("reason", opt_text(raw, "reason")),
            ("status", opt_text(raw, "status")),
            ("amount", opt_text(raw, "amount")),
            ("currency", opt_text(raw, "currency")),
        )
        if value
    ]
    data = {
        "order_ref": order_ref,
        "kind": "dispute",
        "detail": ", ".join(details),
        "signal_ref": dispute_ref,
    }
    time = parse_time(raw.get("initiated_at"), where="dispute.initiated_at")
    return [shopify_event(delivery.id, EventType.FRAUD_SIGNAL, time, order_ref, data)]


def _lines(raw: JsonObject, currency: str) -> list[dict[str, Any]]:
    """Order lines; a line without a SKU is keyed by its variant so it stays matchable."""
    items = raw.get("line_items")
    if items is not None and not isinstance(items, list):
        raise InvalidEvent("order.line_items is not a list")
    lines = []
    for item in items or []:
        if not isinstance(item, dict):
            raise InvalidEvent("order.line_items holds a non-object")
        quantity = item.get("quantity")
        if quantity == 0:
            continue
        sku = variant_sku(opt_text(item, "sku"), opt_text(item, "variant_id")) or prefixed(
            "shopify-line-", opt_text(item, "id")
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


def _service_level(raw: JsonObject) -> str | None:
    for line in raw.get("shipping_lines") or []:
        if isinstance(line, dict):
            return opt_text(line, "code") or opt_text(line, "title")
    return None


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
    raise InvalidEvent(f"{SOURCE} refund names no currency in its transactions or money sets")
