"""Shopify Admin webhooks (REST bodies, API 2025-04) for each order's life.

Shopify sends the whole order on every change: ``orders/create`` when it is placed,
``orders/updated`` on every later change, beside ``orders/paid``, ``orders/cancelled``
and ``orders/fulfilled`` with the same body. ``total_price`` stays the original total;
``current_total_price`` falls with refunds. No promise date is ever sent, and line
items carry no location. Times are written in the shop's zone with its offset.

Shapes follow the real payloads in tests/fixtures/shopify/webhook_examples_gadget (orders,
fulfillments, refunds; tests/unit/test_sim_providers_shapes.py keeps them in step).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from orderops.sim.people import Customer, PostalAddress
from orderops.sim.providers.aftermath import captured_at
from orderops.sim.providers.story import (
    LineStory,
    OrderStory,
    Outcome,
    ParcelStory,
    RefundStory,
    Scan,
)
from orderops.sim.providers.wire import Draft, money, money_set, shop_time

API_VERSION = "2025-04"
VENDOR = "Northwind Goods"
SHOP_ID = 61_893_402_114
STATES = {
    "NY": "New York", "MA": "Massachusetts", "PA": "Pennsylvania", "CT": "Connecticut",
    "NJ": "New Jersey", "GA": "Georgia", "FL": "Florida", "NC": "North Carolina",
    "TN": "Tennessee", "IL": "Illinois", "MN": "Minnesota", "MI": "Michigan", "OH": "Ohio",
    "MO": "Missouri", "TX": "Texas", "AZ": "Arizona", "CO": "Colorado", "CA": "California",
    "WA": "Washington", "OR": "Oregon", "NV": "Nevada",
}  # fmt: skip
TRACKING_URLS = {
    "UPS": "https://www.ups.com/track?tracknum={}",
    "USPS": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "FedEx": "https://www.fedex.com/fedextrack/?trknbr={}",
    "DHL Express": "https://www.dhl.com/en/express/tracking.html?AWB={}",
}


class ShopifyWire:
    """Headers and ids for deliveries from one shop."""

    def __init__(self, rng: random.Random, shop_domain: str) -> None:
        self._rng = rng
        self.shop_domain = shop_domain

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def draft(
        self,
        topic: str,
        at: datetime,
        body: dict[str, Any],
        subject: str,
        order_id: int | None = None,
        tags: tuple[str, ...] = (),
    ) -> Draft:
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": self.shop_domain,
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": self.uuid(),
            "X-Shopify-Event-Id": self.uuid(),
            "X-Shopify-Triggered-At": at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
        }
        return Draft(at, "shopify", headers, body, subject, order_id, (1.0, 12.0), tags)


def gid(kind: str, value: int | str) -> str:
    return f"gid://shopify/{kind}/{value}"


def address(place: PostalAddress, customer: Customer) -> dict[str, Any]:
    first, _, last = place.name.partition(" ")
    return {
        "first_name": first,
        "address1": place.line1,
        "phone": customer.phone,
        "city": place.city,
        "zip": place.postal_code,
        "province": STATES.get(place.region, place.region),
        "country": "United States",
        "last_name": last,
        "address2": place.line2,
        "company": None,
        "latitude": None,
        "longitude": None,
        "name": place.name,
        "country_code": place.country,
        "province_code": place.region,
    }


def customer_json(customer: Customer, created: datetime, updated: datetime) -> dict[str, Any]:
    first, _, last = customer.name.partition(" ")
    home = address(customer.address, customer)
    home_id = int(customer.ref) + 1_900_000_000_000
    return {
        "id": int(customer.ref),
        "email": customer.email,
        "created_at": shop_time(created),
        "updated_at": shop_time(updated),
        "first_name": first,
        "last_name": last,
        "state": "enabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": customer.phone,
        "currency": "USD",
        "tax_exemptions": [],
        "admin_graphql_api_id": gid("Customer", customer.ref),
        "default_address": {
            "id": home_id,
            "customer_id": int(customer.ref),
            **home,
            "default": True,
        },
    }


def line_json(line: LineStory, fulfilled: bool) -> dict[str, Any]:
    item = line.item
    return {
        "id": line.line_id,
        "admin_graphql_api_id": gid("LineItem", line.line_id),
        "attributed_staffs": [],
        "current_quantity": line.quantity,
        "fulfillable_quantity": 0 if fulfilled else line.quantity,
        "fulfillment_service": "manual",
        "fulfillment_status": "fulfilled" if fulfilled else None,
        "gift_card": False,
        "grams": 450,
        "name": item.title,
        "price": money(item.price_minor),
        "price_set": money_set(item.price_minor),
        "product_exists": True,
        "product_id": item.product_id,
        "properties": [],
        "quantity": line.quantity,
        "requires_shipping": True,
        "sku": item.sku,
        "taxable": True,
        "title": item.title,
        "total_discount": "0.00",
        "total_discount_set": money_set(0),
        "variant_id": item.variant_id,
        "variant_inventory_management": "shopify",
        "variant_title": None,
        "vendor": VENDOR,
        "tax_lines": [],
        "duties": [],
        "discount_allocations": [],
    }


def financial_status(order: OrderStory, at: datetime) -> str:
    captured = sum(
        p.amount_minor for p in order.payments if (c := captured_at(p)) is not None and c <= at
    )
    refunded = sum(r.amount_minor for r in order.refunds if r.at <= at)
    if captured:
        return "refunded" if refunded >= captured else "partially_refunded" if refunded else "paid"
    for p in order.payments:
        authorized = [a.at for a in p.attempts if a.outcome is Outcome.AUTHORIZED and a.at <= at]
        if authorized and not (p.canceled_at is not None and p.canceled_at <= at):
            return "authorized"
    if (order.cancelled_at is not None and order.cancelled_at <= at) or any(
        p.canceled_at is not None and p.canceled_at <= at for p in order.payments
    ):
        return "voided"
    return "pending"


def fulfillment_json(order: OrderStory, parcel: ParcelStory, at: datetime) -> dict[str, Any]:
    delivered = any(s.status is Scan.DELIVERED and s.at <= at for s in parcel.scans)
    status = "delivered" if delivered and parcel.shopify_reports_delivery else None
    return {
        "id": parcel.fulfillment_id,
        "admin_graphql_api_id": gid("Fulfillment", parcel.fulfillment_id),
        "created_at": shop_time(parcel.at),
        "destination": address(order.customer.address, order.customer),
        "email": order.customer.email,
        "location_id": parcel.location.location_id,
        "name": f"{order.name}.1",
        "order_id": order.order_id,
        "origin_address": {},
        "receipt": {},
        "service": "manual",
        "shipment_status": status,
        "status": "success",
        "tracking_company": parcel.carrier,
        "tracking_number": parcel.tracking,
        "tracking_numbers": [parcel.tracking],
        "tracking_url": TRACKING_URLS[parcel.carrier].format(parcel.tracking),
        "tracking_urls": [TRACKING_URLS[parcel.carrier].format(parcel.tracking)],
        "updated_at": shop_time(at),
        "line_items": [line_json(line, True) for line in order.lines],
    }


def refund_json(order: OrderStory, refund: RefundStory, charge_id: str | None) -> dict[str, Any]:
    lines = [
        {
            "id": line.line_id + 7,
            "line_item_id": line.line_id,
            "location_id": None,
            "quantity": line.quantity,
            "restock_type": "no_restock",
            "subtotal": line.total_minor / 100,
            "subtotal_set": money_set(line.total_minor),
            "total_tax": 0.0,
            "total_tax_set": money_set(0),
            "line_item": line_json(line, order.parcel is not None),
        }
        for line in refund.lines
    ]
    adjusted = refund.amount_minor - sum(line.total_minor for line in refund.lines)
    shipping_lines = []
    if refund.lines and adjusted == order.shipping.price_minor > 0:
        shipping_lines.append(
            {
                "id": refund.refund_id + 5,
                "shipping_line_id": order.checkout_id + 11,
                "subtotal_amount_set": money_set(adjusted),
            }
        )
        adjusted = 0
    adjustments = []
    if adjusted:
        adjustments.append(
            {
                "id": refund.refund_id + 3,
                "order_id": order.order_id,
                "refund_id": refund.refund_id,
                "amount": "-" + money(abs(adjusted)),
                "amount_set": money_set(abs(adjusted)),
                "tax_amount": "0.00",
                "tax_amount_set": money_set(0),
                "kind": "refund_discrepancy",
                "reason": "Refund discrepancy",
            }
        )
    return {
        "id": refund.refund_id,
        "admin_graphql_api_id": gid("Refund", refund.refund_id),
        "created_at": shop_time(refund.at),
        "note": refund.note,
        "order_id": order.order_id,
        "processed_at": shop_time(refund.at),
        "restock": False,
        "total_duties_set": money_set(0),
        "user_id": 91_552_004_611,
        "order_adjustments": adjustments,
        "transactions": [
            {
                "id": refund.transaction_id,
                "admin_graphql_api_id": gid("OrderTransaction", refund.transaction_id),
                "amount": money(refund.amount_minor),
                "authorization": refund.stripe_refund_id,
                "created_at": shop_time(refund.at),
                "currency": "USD",
                "device_id": None,
                "error_code": None,
                "gateway": "stripe",
                "kind": "refund",
                "location_id": None,
                "message": "Refunded",
                "order_id": order.order_id,
                "parent_id": None,
                "payment_id": f"c{order.checkout_id}.1",
                "processed_at": shop_time(refund.at),
                "receipt": {"refund_id": refund.stripe_refund_id, "charge": charge_id},
                "source_name": "web",
                "status": "success",
                "test": False,
                "user_id": None,
            }
        ],
        "refund_line_items": lines,
        "refund_shipping_lines": shipping_lines,
        "duties": [],
        "return": None,
    }


class OrderRenderer:
    def __init__(self, wire: ShopifyWire, customer_since: dict[str, datetime]) -> None:
        self._wire = wire
        self._since = customer_since

    def order_json(self, order: OrderStory, at: datetime) -> dict[str, Any]:
        customer = order.customer
        fulfilled = order.parcel is not None and order.parcel.at <= at
        refunded = sum(r.amount_minor for r in order.refunds if r.at <= at)
        cancelled = order.cancelled_at is not None and order.cancelled_at <= at
        total, subtotal = order.total_minor, order.subtotal_minor
        current = max(0, total - refunded)
        status = financial_status(order, at)
        outstanding = 0 if status not in ("pending", "authorized") else total
        shipping = order.shipping
        return {
            "id": order.order_id,
            "admin_graphql_api_id": gid("Order", order.order_id),
            "app_id": 580_111,
            "browser_ip": None,
            "buyer_accepts_marketing": customer.tier == "vip",
            "cancel_reason": order.cancel_reason if cancelled else None,
            "cancelled_at": shop_time(order.cancelled_at)
            if cancelled and order.cancelled_at
            else None,
            "cart_token": order.cart_token,
            "checkout_id": order.checkout_id,
            "checkout_token": order.checkout_token,
            "closed_at": None,
            "confirmation_number": order.token[:9].upper(),
            "confirmed": True,
            "contact_email": customer.email,
            "created_at": shop_time(order.placed_at),
            "currency": "USD",
            "current_subtotal_price": money(max(0, subtotal - refunded)),
            "current_subtotal_price_set": money_set(max(0, subtotal - refunded)),
            "current_total_discounts": "0.00",
            "current_total_price": money(current),
            "current_total_price_set": money_set(current),
            "current_total_tax": "0.00",
            "customer_locale": "en-US",
            "email": customer.email,
            "estimated_taxes": False,
            "financial_status": status,
            "fulfillment_status": "fulfilled" if fulfilled else None,
            "landing_site": "/",
            "location_id": None,
            "name": order.name,
            "note": None,
            "note_attributes": [],
            "number": order.number - 1000,
            "order_number": order.number,
            "order_status_url": f"https://{self._wire.shop_domain}/{SHOP_ID}/orders/{order.token}/authenticate?key={order.token[::-1]}",
            "payment_gateway_names": ["stripe"],
            "phone": None,
            "presentment_currency": "USD",
            "processed_at": shop_time(order.placed_at),
            "source_name": "web",
            "subtotal_price": money(subtotal),
            "subtotal_price_set": money_set(subtotal),
            "tags": "",
            "tax_lines": [],
            "taxes_included": False,
            "test": False,
            "token": order.token,
            "total_discounts": "0.00",
            "total_discounts_set": money_set(0),
            "total_line_items_price": money(subtotal),
            "total_line_items_price_set": money_set(subtotal),
            "total_outstanding": money(outstanding),
            "total_price": money(total),
            "total_price_set": money_set(total),
            "total_shipping_price_set": money_set(shipping.price_minor),
            "total_tax": "0.00",
            "total_tax_set": money_set(0),
            "total_weight": 450 * sum(line.quantity for line in order.lines),
            "updated_at": shop_time(at),
            "user_id": None,
            "billing_address": address(customer.address, customer),
            "customer": customer_json(customer, self._since[customer.ref], at),
            "discount_applications": [],
            "discount_codes": [],
            "fulfillments": [fulfillment_json(order, order.parcel, at)]
            if fulfilled and order.parcel
            else [],
            "line_items": [line_json(line, fulfilled) for line in order.lines],
            "payment_terms": None,
            "refunds": [refund_json(order, r, None) for r in order.refunds if r.at <= at],
            "shipping_address": address(customer.address, customer),
            "shipping_lines": [
                {
                    "id": order.checkout_id + 11,
                    "carrier_identifier": None,
                    "code": shipping.code,
                    "discounted_price": money(shipping.price_minor),
                    "discounted_price_set": money_set(shipping.price_minor),
                    "is_removed": False,
                    "phone": None,
                    "price": money(shipping.price_minor),
                    "price_set": money_set(shipping.price_minor),
                    "requested_fulfillment_service_id": None,
                    "source": "shopify",
                    "title": shipping.title,
                    "tax_lines": [],
                    "discount_allocations": [],
                }
            ],
        }

    def drafts(self, order: OrderStory) -> list[Draft]:
        """Every Shopify delivery about the order, in the order Shopify would send them."""
        wire, key = self._wire, f"order:{order.order_id}"
        out = [
            wire.draft(
                "orders/create",
                order.placed_at,
                self.order_json(order, order.placed_at),
                key,
                order.order_id,
            )
        ]
        changes: list[tuple[datetime, str, object]] = []
        for payment in order.payments:
            for attempt in payment.attempts:
                changes.append((attempt.at + timedelta(seconds=2), "payment", None))
            for at in (payment.captured_at, payment.canceled_at):
                if at is not None:
                    changes.append((at + timedelta(seconds=2), "payment", None))
        if order.cancelled_at is not None:
            changes.append((order.cancelled_at, "cancel", None))
        if order.parcel is not None:
            changes.append((order.parcel.at, "fulfil", order.parcel))
            delivered = [s.at for s in order.parcel.scans if s.status is Scan.DELIVERED]
            if order.parcel.shopify_reports_delivery and delivered:
                changes.append((delivered[-1] + timedelta(minutes=7), "delivered", order.parcel))
        for refund in order.refunds:
            changes.append((refund.at, "refund", refund))
        status = financial_status(order, order.placed_at)
        for at, kind, subject in sorted(changes, key=lambda c: (c[0], c[1])):
            if at <= order.placed_at:
                continue
            body = self.order_json(order, at)
            if kind == "payment":
                new = financial_status(order, at)
                if new == status:
                    continue
                status = new
                out.append(wire.draft("orders/updated", at, body, key, order.order_id))
                if new == "paid":
                    out.append(wire.draft("orders/paid", at, body, key, order.order_id))
            elif kind == "cancel":
                out.append(wire.draft("orders/cancelled", at, body, key, order.order_id))
                out.append(wire.draft("orders/updated", at, body, key, order.order_id))
                status = financial_status(order, at)
            elif kind == "fulfil" and isinstance(subject, ParcelStory):
                fkey = f"fulfillment:{subject.fulfillment_id}"
                out.append(
                    wire.draft(
                        "fulfillments/create",
                        at,
                        fulfillment_json(order, subject, at),
                        fkey,
                        order.order_id,
                    )
                )
                out.append(wire.draft("orders/updated", at, body, key, order.order_id))
                out.append(wire.draft("orders/fulfilled", at, body, key, order.order_id))
            elif kind == "delivered" and isinstance(subject, ParcelStory):
                fkey = f"fulfillment:{subject.fulfillment_id}"
                out.append(
                    wire.draft(
                        "fulfillments/update",
                        at,
                        fulfillment_json(order, subject, at),
                        fkey,
                        order.order_id,
                    )
                )
            elif kind == "refund" and isinstance(subject, RefundStory):
                charge = next((p.charge_id for p in order.payments if captured_at(p)), None)
                tags = ("partial_refund",) if subject.amount_minor < order.total_minor else ()
                refund_key = f"refund:{subject.refund_id}"
                out.append(
                    wire.draft(
                        "refunds/create",
                        at,
                        refund_json(order, subject, charge),
                        refund_key,
                        order.order_id,
                        tags,
                    )
                )
                out.append(wire.draft("orders/updated", at, body, key, order.order_id))
                status = financial_status(order, at)
        return out
