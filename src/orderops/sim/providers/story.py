"""What happens to each order of the simulated store, as plain values.

The story is kept apart from how each provider reports it (``shopify``, ``stripe``,
``carriers``, ``zendesk``), so one order can be read and tested as facts, and the
renderers stay free to follow each provider's own shapes and quirks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from orderops.sim.people import Customer


@dataclass(frozen=True)
class Item:
    """A catalogue variant with the ids Shopify gives it."""

    sku: str
    title: str
    category: str
    price_minor: int
    popularity: float
    product_id: int
    variant_id: int
    inventory_item_id: int


@dataclass(frozen=True)
class Location:
    code: str
    location_id: int
    name: str
    city: str
    state: str
    zip: str


@dataclass(frozen=True)
class ShippingLine:
    code: str
    title: str
    price_minor: int


@dataclass(frozen=True)
class LineStory:
    line_id: int
    item: Item
    quantity: int

    @property
    def total_minor(self) -> int:
        return self.item.price_minor * self.quantity


class Outcome(StrEnum):
    DECLINED = "declined"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"


@dataclass(frozen=True)
class Attempt:
    """One confirmation of a PaymentIntent: a new charge, declined or approved."""

    at: datetime
    outcome: Outcome
    charge_id: str
    decline_code: str | None = None
    decline_message: str | None = None


@dataclass(frozen=True)
class StripeRefund:
    refund_id: str
    at: datetime
    amount_minor: int


@dataclass(frozen=True)
class PaymentStory:
    intent_id: str
    created_at: datetime
    metadata: dict[str, str]
    """What the store wrote on the PaymentIntent: a checkout or cart token at checkout,
    the order id or number for a payment taken later."""
    capture_method: str
    amount_minor: int
    attempts: tuple[Attempt, ...]
    captured_at: datetime | None = None
    """Manual capture only: when the held money was taken."""
    canceled_at: datetime | None = None
    refunds: tuple[StripeRefund, ...] = ()
    charge_metadata: bool = True
    """Whether the store copied the metadata onto the charges too."""

    @property
    def charge_id(self) -> str | None:
        """The charge that took (or holds) the money, if any did."""
        approved = [a for a in self.attempts if a.outcome is not Outcome.DECLINED]
        return approved[-1].charge_id if approved else None


@dataclass(frozen=True)
class SignalStory:
    kind: str
    """dispute, early_fraud_warning or review."""
    signal_id: str
    at: datetime
    names_intent: bool
    """Whether the object names the PaymentIntent; otherwise only the charge."""
    reason: str
    closed_at: datetime | None = None
    """Radar reviews only: when the review was approved."""


class Scan(StrEnum):
    LABEL = "label"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"
    LOST = "lost"


@dataclass(frozen=True)
class ScanStory:
    at: datetime
    status: Scan
    message: str
    city: str
    state: str
    zip: str


@dataclass(frozen=True)
class ParcelStory:
    fulfillment_id: int
    at: datetime
    location: Location
    carrier: str
    """Shopify's spelling: UPS, USPS, FedEx, DHL Express."""
    service: str
    tracking: str
    tracker: str
    """Who posts the tracking: easypost, shippo or aftership."""
    tracker_ref: str
    shipment_ref: str
    estimated_delivery: datetime
    scans: tuple[ScanStory, ...]
    shopify_reports_delivery: bool = False


@dataclass(frozen=True)
class RefundStory:
    refund_id: int
    transaction_id: int
    at: datetime
    amount_minor: int
    lines: tuple[LineStory, ...]
    note: str
    stripe_refund_id: str


@dataclass(frozen=True)
class HoldStory:
    fulfillment_order_id: int
    placed_at: datetime
    released_at: datetime | None
    reason: str
    note: str


@dataclass(frozen=True)
class TicketStory:
    ticket_id: int
    created_at: datetime
    subject: str
    description: str
    key: str
    """How the ticket names its order: hash, order_word, order_no, custom_field,
    custom_field_hash, external_id or email_only."""
    updates: tuple[tuple[datetime, str], ...]
    """Later versions: (updated_at, status)."""
    requester_id: int


@dataclass(frozen=True)
class OrderStory:
    order_id: int
    number: int
    checkout_id: int
    checkout_token: str
    cart_token: str
    token: str
    customer: Customer
    new_customer: bool
    placed_at: datetime
    shipping: ShippingLine
    lines: tuple[LineStory, ...]
    location: Location
    payments: tuple[PaymentStory, ...]
    scenario: str
    signals: tuple[SignalStory, ...] = ()
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    refunds: tuple[RefundStory, ...] = ()
    parcel: ParcelStory | None = None
    hold: HoldStory | None = None
    tickets: tuple[TicketStory, ...] = ()
    customer_updates: tuple[datetime, ...] = field(default=())

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def subtotal_minor(self) -> int:
        return sum(line.total_minor for line in self.lines)

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.shipping.price_minor
