"""The facts a recommendation is built on: one frozen snapshot of a case's order world.

Built from the database (``recommend.store_facts``) or from simulator events
(``recommend.event_facts``), so the playbook, the drafts and the fact checker judge the
same plain values whichever way they were read, and tests need no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from orderops.domain.actions import ActionContext, LineInfo, PaymentInfo
from orderops.domain.cases import ExceptionType
from orderops.domain.statuses import PaymentStatus, TrackingStatus

SECONDS_PER_DAY = 86_400.0

LANGUAGE_OF_COUNTRY: dict[str, str] = {
    "ES": "es",
    "MX": "es",
    "AR": "es",
    "CO": "es",
    "CL": "es",
    "PE": "es",
    "BR": "pt",
    "PT": "pt",
    "DE": "de",
    "AT": "de",
    "CH": "de",
}
"""A customer's language when nothing better is known: from the ship-to country."""

ADDRESS_FAILURE_SCANS = frozenset({TrackingStatus.RETURN_TO_SENDER})


@dataclass(frozen=True, kw_only=True)
class LineFact:
    sku: str
    title: str | None
    quantity: int
    unit_price_minor: int
    location: str | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentFact:
    payment_ref: str
    status: PaymentStatus
    amount_minor: int
    refunded_minor: int = 0

    @property
    def captured(self) -> bool:
        return self.status in {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED}

    @property
    def refundable_minor(self) -> int:
        return max(0, self.amount_minor - self.refunded_minor) if self.captured else 0


@dataclass(frozen=True, kw_only=True)
class ScanFact:
    status: TrackingStatus
    at: datetime
    location: str | None = None
    message: str | None = None


@dataclass(frozen=True, kw_only=True)
class ShipmentFact:
    tracking_number: str
    carrier: str
    service: str | None
    status: TrackingStatus
    shipped_at: datetime | None
    delivered_at: datetime | None
    estimated_delivery: datetime | None = None
    scans: tuple[ScanFact, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TicketFact:
    ticket_ref: str
    source: str
    subject: str | None
    body: str | None
    opened_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class CaseFacts:
    """Everything a recommendation may cite; an amount or date absent here cannot be quoted."""

    exception_type: ExceptionType
    order_ref: str
    order_number: str | None
    currency: str
    total_minor: int
    placed_at: datetime
    now: datetime
    promised_by: datetime | None = None
    service_level: str | None = None
    location: str | None = None
    cancelled: bool = False
    case_id: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    customer_email: str | None = None
    customer_phone: str | None = None
    customer_tier: str = "standard"
    ship_to_country: str | None = None
    address_verified: bool | None = None
    """False when a check failed (undeliverable scan, address case); None when never checked."""
    lines: tuple[LineFact, ...] = ()
    payments: tuple[PaymentFact, ...] = ()
    shipments: tuple[ShipmentFact, ...] = ()
    tickets: tuple[TicketFact, ...] = ()
    fraud_kinds: tuple[str, ...] = ()
    fraud_score: float | None = None
    """0-1, the policies' scale."""
    dispute_ref: str | None = None
    pending_refund_minor: int = 0
    """Refunds already proposed or approved on this order but not yet seen on a payment."""
    language: str | None = None
    stock: dict[tuple[str, str], int] = field(default_factory=dict)
    """Available units per (SKU, location), for the order's SKUs and their candidates."""

    @property
    def label(self) -> str:
        return f"#{self.order_number.lstrip('#')}" if self.order_number else self.order_ref

    @property
    def first_name(self) -> str | None:
        """The only part of the name a message needs."""
        if not self.customer_name:
            return None
        return self.customer_name.split()[0]

    @property
    def delivered_at(self) -> datetime | None:
        times = [s.delivered_at for s in self.shipments if s.delivered_at is not None]
        return max(times) if times else None

    @property
    def delivered(self) -> bool:
        return bool(self.shipments) and all(s.delivered_at for s in self.shipments)

    @property
    def days_late(self) -> float:
        """How far past the promise: until delivery, or until now while undelivered."""
        if self.promised_by is None:
            return 0.0
        until = self.delivered_at if self.delivered else self.now
        assert until is not None
        return max(0.0, (until - self.promised_by).total_seconds() / SECONDS_PER_DAY)

    @property
    def refundable_minor(self) -> int:
        return max(0, sum(p.refundable_minor for p in self.payments) - self.pending_refund_minor)

    @property
    def refunded_minor(self) -> int:
        return sum(p.refunded_minor for p in self.payments)

    @property
    def captured(self) -> bool:
        return any(p.captured for p in self.payments)

    @property
    def authorized(self) -> bool:
        return any(p.status is PaymentStatus.AUTHORIZED for p in self.payments)

    @property
    def payment_failed(self) -> bool:
        return bool(self.payments) and not (self.captured or self.authorized)

    @property
    def latest_shipment(self) -> ShipmentFact | None:
        dated = [s for s in self.shipments if s.shipped_at is not None]
        if dated:
            return max(dated, key=lambda s: s.shipped_at or self.placed_at)
        return self.shipments[-1] if self.shipments else None

    @property
    def customer_language(self) -> str:
        if self.language:
            return self.language
        return LANGUAGE_OF_COUNTRY.get((self.ship_to_country or "").upper(), "en")

    def line(self, sku: str) -> LineFact | None:
        return next((line for line in self.lines if line.sku == sku), None)

    def action_context(self) -> ActionContext:
        """The same order as the action catalogue sees it, so plans validate identically."""
        return ActionContext(
            order_ref=self.order_ref,
            currency=self.currency,
            order_total_minor=self.total_minor,
            cancelled=self.cancelled,
            lines=tuple(
                LineInfo(sku=x.sku, quantity=x.quantity, unit_price_minor=x.unit_price_minor)
                for x in self.lines
            ),
            payments=tuple(
                PaymentInfo(
                    payment_ref=p.payment_ref,
                    provider="stripe",
                    status=p.status,
                    amount_minor=p.amount_minor,
                    refunded_minor=p.refunded_minor,
                )
                for p in self.payments
            ),
            tracking_numbers=tuple(s.tracking_number for s in self.shipments),
            customer_id=self.customer_id,
            customer_tier=self.customer_tier,
            fraud_score=self.fraud_score,
        )


def address_failed(shipments: tuple[ShipmentFact, ...]) -> bool:
    """A carrier said the address is wrong: returned to sender, or an exception naming it."""
    for shipment in shipments:
        for scan in shipment.scans:
            if scan.status in ADDRESS_FAILURE_SCANS:
                return True
            text = (scan.message or "").lower()
            if scan.status is TrackingStatus.EXCEPTION and "address" in text:
                return True
    return False
