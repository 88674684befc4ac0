"""The simulated facts of each order, before they are rendered as events.

Planning (what happens to an order) is kept apart from rendering (how each system
would report it), so the story of an order can be read and tested as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.sim.catalog import Product, ServiceLevel, Warehouse
from orderops.sim.people import Customer


class LateMode(StrEnum):
    """How an injected late shipment goes wrong."""

    STALLED = "stalled"
    """Scanned in transit, then nothing: never delivered."""
    DELAYED = "delayed"
    """Delivered one to three days after the promise."""
    EXCEPTION_DELAYED = "exception_delayed"
    """A carrier exception scan, then a late delivery."""
    EXCEPTION_LOST = "exception_lost"
    """A carrier exception scan, then nothing."""


@dataclass(frozen=True)
class Line:
    product: Product
    quantity: int
    location: str | None = None
    """Set only when the line ships from another warehouse than the order's."""


@dataclass(frozen=True)
class PaymentStep:
    payment_ref: str
    status: PaymentStatus
    at: datetime
    failure_code: str | None = None
    failure_message: str | None = None
    amount_minor: int | None = None
    """None: the order total."""
    refunded_minor: int = 0


@dataclass(frozen=True)
class SignalPlan:
    """A fraud or review signal from the payment provider."""

    kind: str
    at: datetime
    score: float | None = None


@dataclass(frozen=True)
class Scan:
    status: TrackingStatus
    at: datetime
    location: str
    message: str


@dataclass(frozen=True)
class ShipmentPlan:
    shipment_ref: str
    carrier: str
    service: str
    tracking_number: str
    origin: Warehouse
    picked_at: datetime
    shipped_at: datetime
    """When the label is bought: the payment is captured at this moment."""
    estimated_delivery: datetime
    scans: tuple[Scan, ...]


@dataclass(frozen=True)
class TicketPlan:
    ticket_ref: str
    at: datetime
    subject: str
    body: str
    solved_at: datetime | None = None


@dataclass(frozen=True)
class OrderPlan:
    order_ref: str
    number: str
    customer: Customer
    first_order_of_customer: bool
    placed_at: datetime
    service_level: ServiceLevel
    promised_by: datetime
    location: str
    lines: tuple[Line, ...]
    shipping_minor: int
    payments: tuple[PaymentStep, ...]
    cancelled_at: datetime | None
    shipment: ShipmentPlan | None
    tickets: tuple[TicketPlan, ...]
    late_mode: LateMode | None
    # What ``sim.inject`` adds; the defaults render exactly what plain planning did.
    cancel_reason: str = "declined"
    signals: tuple[SignalPlan, ...] = ()
    later_payments: tuple[PaymentStep, ...] = ()
    """Payment updates after the shipment (a second charge, refunds)."""
    extra_shipments: tuple[ShipmentPlan, ...] = ()
    restock_at: datetime | None = None
    """Injected shortfall: stock is reported short at placement and arrives at this time."""
    ship_to_missing: tuple[str, ...] = ()
    address_fixed_at: datetime | None = None
    injected: tuple[str, ...] = ()

    @property
    def subtotal_minor(self) -> int:
        return sum(line.product.price_minor * line.quantity for line in self.lines)

    @property
    def total_minor(self) -> int:
        return self.subtotal_minor + self.shipping_minor
