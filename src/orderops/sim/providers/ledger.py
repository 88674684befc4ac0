"""Everything the deliveries say, filed by what it is about, and linked to orders.

The linking conventions are the providers' own, applied the way a person would: a
PaymentIntent names the checkout or cart token, the order id or the order number; a
charge names its PaymentIntent; a dispute, fraud warning or review names the charge
(and sometimes the PaymentIntent); a carrier names the tracking code the Shopify
fulfillment carries; a ticket quotes the order, carries it in a field or external id,
or else only its requester's email says whose it is.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderops.sim.providers import spec
from orderops.sim.providers.reading import (
    SHOPIFY_PHASES,
    CarrierScan,
    Charge,
    Intent,
    Record,
    Signal,
    UnreadableDelivery,
    carrier_scans,
    minor,
    parse_time,
    tracking_key,
)

MENTION = re.compile(
    r"#\s?(\d{3,12})\b|\border\s*(?:no\.?|number|num\.?|nr\.?|id)?\s*[:#]?\s*(\d{3,12})\b",
    re.IGNORECASE,
)
ORDER_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled"}
    | {"orders/partially_fulfilled", "orders/edited"}
)
SIGNAL_TYPES = {
    "charge.dispute.created": "dispute",
    "radar.early_fraud_warning.created": "early_fraud_warning",
    "review.opened": "review",
}


REQUIRED: dict[str, tuple[str, ...]] = {
    "order": ("id", "created_at"),
    "fulfillments/": ("id", "order_id", "created_at"),
    "refunds/create": ("id", "order_id"),
    "inventory_levels/update": ("inventory_item_id", "location_id"),
    "stripe": ("id", "type", "created", "data.object.id"),
    "zendesk": ("ticket.id", "ticket.created_at", "ticket.updated_at"),
    "easypost": ("result.tracking_code",),
    "shippo": ("data.tracking_number",),
    "aftership": ("msg.tracking_number",),
}
"""What each kind of record must name to be read at all."""


def _required(record: Record) -> tuple[str, ...]:
    if record.provider != "shopify":
        return REQUIRED.get(record.provider, ())
    if record.kind in ORDER_TOPICS:
        return REQUIRED["order"]
    if record.kind.startswith("fulfillments/"):
        return REQUIRED["fulfillments/"]
    return REQUIRED.get(record.kind, ())


def _at(body: Mapping[str, Any], path: str) -> Any:
    value: Any = body
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or "")).lstrip("0")


@dataclass
class Order:
    order_id: str
    name: str
    number: str
    placed_at: datetime
    email: str
    shipping: tuple[str | None, str | None]
    total_minor: int
    tokens: set[str] = field(default_factory=set)
    lines: list[tuple[str, int]] = field(default_factory=list)
    statuses: list[tuple[datetime, str]] = field(default_factory=list)
    cancelled_at: datetime | None = None
    fulfillments: dict[str, tuple[datetime, set[str]]] = field(default_factory=dict)
    """Fulfillment id -> (created, tracking codes)."""
    refunds: dict[str, tuple[datetime, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    opened_at: datetime
    email: str
    numbers: tuple[str, ...]
    """Order numbers or ids the ticket names: field values, external id, mentions."""


@dataclass
class Ledger:
    orders: dict[str, Order] = field(default_factory=dict)
    intents: dict[str, Intent] = field(default_factory=dict)
    charges: dict[str, Charge] = field(default_factory=dict)
    signals: list[Signal] = field(default_factory=list)
    scans: dict[str, list[CarrierScan]] = field(default_factory=lambda: defaultdict(list))
    tickets: dict[str, Ticket] = field(default_factory=dict)
    skus: dict[str, str] = field(default_factory=dict)
    """Inventory item id -> SKU, from products and inventory items."""
    levels: list[tuple[datetime, str, str, int]] = field(default_factory=list)
    """(when, inventory item, location, available)."""
    pending_fulfillments: list[tuple[str, str, datetime, set[str]]] = field(default_factory=list)
    """(order id, fulfillment id, created, tracking codes), attached by ``settle``."""
    pending_refunds: list[tuple[str, str, datetime, int]] = field(default_factory=list)
    """(order id, refund id, processed, amount), attached by ``settle``."""
    _by_token: dict[str, list[Order]] = field(default_factory=dict)
    _by_number: dict[str, list[Order]] = field(default_factory=dict)

    # --- filing ----------------------------------------------------------------------
    def file(self, record: Record) -> None:
        """File one record; a record lacking what identifies it is refused, by its seq."""
        body = record.body
        for path in _required(record):
            if _at(body, path) in (None, ""):
                raise UnreadableDelivery(
                    f"delivery {record.seq} ({record.provider} {record.kind}): {path} is missing"
                )
        if record.provider == "shopify":
            self._shopify(record.kind, record.at, body)
        elif record.provider == "stripe":
            self._stripe(record.kind, record.at, (body.get("data") or {}).get("object") or {})
        elif record.provider == "zendesk":
            self._ticket(body.get("ticket") or {})
        else:
            for scan in carrier_scans(record.provider, body):
                self.scans[scan.code].append(scan)

    def _shopify(self, topic: str, at: datetime, body: Mapping[str, Any]) -> None:
        if topic in ORDER_TOPICS:
            self._order(at, body)
        elif topic.startswith("fulfillments/"):
            self._fulfillment(body)
        elif topic == "refunds/create":
            self._refund(str(body.get("order_id")), body)
        elif topic.startswith("products/"):
            for variant in body.get("variants") or []:
                if variant.get("sku") and variant.get("inventory_item_id"):
                    self.skus[str(variant["inventory_item_id"])] = str(variant["sku"])
        elif topic.startswith("inventory_items/") and body.get("sku"):
            self.skus[str(body.get("id"))] = str(body["sku"])
        elif topic == "inventory_levels/update" and isinstance(body.get("available"), int):
            item, location = str(body.get("inventory_item_id")), str(body.get("location_id"))
            self.levels.append((at, item, location, int(body["available"])))

    def _order(self, at: datetime, body: Mapping[str, Any]) -> None:
        order_id = str(body.get("id"))
        order = self.orders.get(order_id)
        if order is None:
            placed = parse_time(body.get("created_at")) or at
            customer = body.get("customer") or {}
            lines: list[Mapping[str, Any]] = list(body.get("shipping_lines") or [])
            line = lines[0] if lines else {}
            order = Order(
                order_id=order_id,
                name=str(body.get("name") or ""),
                number=digits(body.get("order_number") or body.get("name")),
                placed_at=placed,
                email=str(body.get("email") or customer.get("email") or "").strip().lower(),
                shipping=(line.get("code"), line.get("title")),
                total_minor=minor(body.get("total_price") or "0"),
                tokens={str(t) for t in (body.get("checkout_token"), body.get("cart_token")) if t},
                lines=[
                    (str(li.get("sku")), int(li.get("quantity") or 0))
                    for li in body.get("line_items") or []
                    if li.get("sku")
                ],
            )
            self.orders[order_id] = order
        order.statuses.append((at, str(body.get("financial_status"))))
        cancelled = parse_time(body.get("cancelled_at"))
        if cancelled is not None:
            order.cancelled_at = min(cancelled, order.cancelled_at or cancelled)
        for fulfillment in body.get("fulfillments") or []:
            self._fulfillment(fulfillment)
        for refund in body.get("refunds") or []:
            self._refund(order_id, refund)

    def _refund(self, order_id: str, refund: Mapping[str, Any]) -> None:
        moved = sum(
            minor(t.get("amount"))
            for t in refund.get("transactions") or []
            if t.get("kind") == "refund" and t.get("status") == "success"
        )
        when = parse_time(refund.get("processed_at") or refund.get("created_at"))
        if moved and when:
            self.pending_refunds.append((order_id, str(refund.get("id")), when, moved))

    def _fulfillment(self, body: Mapping[str, Any]) -> None:
        order_id = str(body.get("order_id"))
        created = parse_time(body.get("created_at"))
        if created is None:
            return
        codes = {
            tracking_key(c)
            for c in [body.get("tracking_number"), *(body.get("tracking_numbers") or [])]
            if c
        }
        self.pending_fulfillments.append((order_id, str(body.get("id")), created, codes))
        phase = SHOPIFY_PHASES.get(str(body.get("shipment_status")))
        updated = parse_time(body.get("updated_at"))
        if phase and updated:
            for code in codes:
                self.scans[code].append(
                    CarrierScan(code, updated, phase, f"Shopify: {body.get('shipment_status')}")
                )

    def _stripe(self, kind: str, at: datetime, obj: Mapping[str, Any]) -> None:
        meta = {str(k): str(v) for k, v in (obj.get("metadata") or {}).items() if v}
        if kind.startswith("payment_intent."):
            intent = self.intents.setdefault(str(obj.get("id")), Intent(str(obj.get("id"))))
            intent.metadata.update(meta)
            intent.amount_minor = int(obj.get("amount") or intent.amount_minor)
            latest = obj.get("latest_charge")
            if latest:
                intent.charges.add(str(latest))
                charge = self.charges.setdefault(str(latest), Charge(str(latest)))
                charge.intent_id = intent.intent_id
                self._outcome(charge, kind, at, obj)
            if kind == "payment_intent.canceled":
                intent.canceled_at = at
        elif kind.startswith("charge.") and not kind.startswith("charge.dispute"):
            charge = self.charges.setdefault(str(obj.get("id")), Charge(str(obj.get("id"))))
            charge.metadata.update(meta)
            if obj.get("payment_intent"):
                charge.intent_id = str(obj["payment_intent"])
                self.intents.setdefault(charge.intent_id, Intent(charge.intent_id)).charges.add(
                    charge.charge_id
                )
            self._outcome(charge, kind, at, obj)
            if kind == "charge.refunded":
                charge.refunds.append((at, int(obj.get("amount_refunded") or 0)))
        if kind in SIGNAL_TYPES:
            charge_id, intent_id = obj.get("charge"), obj.get("payment_intent")
            self.signals.append(
                Signal(
                    SIGNAL_TYPES[kind],
                    str(obj.get("id")),
                    at,
                    str(charge_id) if charge_id else None,
                    str(intent_id) if intent_id else None,
                    meta,
                )
            )

    @staticmethod
    def _outcome(charge: Charge, kind: str, at: datetime, obj: Mapping[str, Any]) -> None:
        if kind in ("payment_intent.payment_failed", "charge.failed"):
            charge.declined_at = min(at, charge.declined_at or at)
            error = obj.get("last_payment_error") or {}
            charge.decline_code = (
                charge.decline_code
                or obj.get("failure_code")
                or error.get("decline_code")
                or error.get("code")
            )
        elif kind == "payment_intent.amount_capturable_updated" or (
            kind == "charge.succeeded" and not obj.get("captured")
        ):
            charge.authorized_at = min(at, charge.authorized_at or at)
        elif kind in ("payment_intent.succeeded", "charge.captured") or (
            kind == "charge.succeeded" and obj.get("captured")
        ):
            charge.captured_at = min(at, charge.captured_at or at)
            amount = (
                obj.get("amount_received") or obj.get("amount_captured") or obj.get("amount") or 0
            )
            charge.captured_minor = max(charge.captured_minor, int(amount))

    def _ticket(self, ticket: Mapping[str, Any]) -> None:
        ticket_id = str(ticket.get("id"))
        opened = parse_time(ticket.get("created_at"))
        if opened is None or ticket_id in self.tickets:
            return
        numbers: list[str] = []
        for value in [
            ticket.get("external_id"),
            *[f.get("value") for f in ticket.get("custom_fields") or []],
        ]:
            if value is not None and re.fullmatch(r"\s*#?\s*\d{3,20}\s*", str(value)):
                numbers.append(digits(value))
        for text in (ticket.get("subject"), ticket.get("description")):
            for match in MENTION.finditer(str(text or "")):
                numbers.append(digits(match.group(1) or match.group(2)))
        email = str((ticket.get("requester") or {}).get("email") or "").strip().lower()
        self.tickets[ticket_id] = Ticket(ticket_id, opened, email, tuple(dict.fromkeys(numbers)))

    def settle(self) -> None:
        """After filing everything: attach fulfillments and refunds to their orders, which
        may have arrived after them."""
        for order_id, fulfillment_id, created, codes in self.pending_fulfillments:
            order = self.orders.get(order_id)
            if order is not None:
                known_at, known_codes = order.fulfillments.get(fulfillment_id, (created, set()))
                order.fulfillments[fulfillment_id] = (min(created, known_at), codes | known_codes)
        for order in self.orders.values():
            for token in order.tokens:
                self._by_token.setdefault(token, []).append(order)
            self._by_number.setdefault(order.number, []).append(order)
        for order_id, refund_id, at, moved in self.pending_refunds:
            order = self.orders.get(order_id)
            if order is not None:
                known = order.refunds.get(refund_id)
                order.refunds[refund_id] = (min(at, known[0]) if known else at, moved)

    # --- linking -----------------------------------------------------------------------
    def order_by_key(self, metadata: Mapping[str, str]) -> Order | None:
        """The one order a PaymentIntent's or charge's metadata names, if any."""
        for key in ("checkout_token", "cart_token"):
            if metadata.get(key):
                found = self._by_token.get(metadata[key], [])
                if len(found) == 1:
                    return found[0]
        for key in ("order_id", "shopify_order_id", "order_number", "order_name"):
            value = metadata.get(key)
            if value:
                found = self.orders_by_number(value)
                if len(found) == 1:
                    return found[0]
        return None

    def orders_by_number(self, value: str) -> list[Order]:
        """By Shopify order id first, else by order number ("#1001" and "1001" alike)."""
        text = digits(value)
        if text in self.orders:
            return [self.orders[text]]
        return list(self._by_number.get(text, []))

    def order_of_intent(self, intent_id: str | None) -> Order | None:
        intent = self.intents.get(intent_id or "")
        if intent is None:
            return None
        found = self.order_by_key(intent.metadata)
        for charge_id in sorted(intent.charges):
            charge = self.charges.get(charge_id)
            if found is None and charge is not None:
                found = self.order_by_key(charge.metadata)
        return found

    def order_of_charge(self, charge_id: str | None) -> Order | None:
        charge = self.charges.get(charge_id or "")
        if charge is None:
            return None
        return self.order_by_key(charge.metadata) or self.order_of_intent(charge.intent_id)

    def open_orders_of(
        self, email: str, at: datetime, delivered: Mapping[str, datetime | None]
    ) -> list[Order]:
        """The requester's orders that were open when the ticket was opened."""
        result = []
        for order in self.orders.values():
            if not email or order.email != email or order.placed_at > at:
                continue
            if at - order.placed_at > spec.OPEN_ORDER_AGE:
                continue
            if order.cancelled_at is not None and order.cancelled_at <= at:
                continue
            done = delivered.get(order.order_id)
            if done is not None and at - done > spec.DELIVERED_STILL_OPEN:
                continue
            result.append(order)
        return result
