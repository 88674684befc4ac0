"""Read-only snapshots of an order's world that detectors judge. Plain data, no I/O.

Every fact a time-based detector needs is kept with the moment it became true
(``authorized_at``, ``first_scan_at``, ``short_since`` ...), so a sweep that runs late,
or after a backfill, can still tell *when* a threshold was crossed and whether the
blocker has cleared since, instead of only seeing the present.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderops.domain.statuses import FinancialStatus, PaymentStatus


@dataclass(frozen=True, kw_only=True)
class PaymentFact:
    payment_ref: str
    provider: str
    status: PaymentStatus
    amount_minor: int
    amount_refunded_minor: int
    currency: str
    status_at: datetime
    failure_code: str | None = None
    failure_message: str | None = None
    created_at: datetime | None = None
    authorized_at: datetime | None = None
    """First time the provider reported an authorisation (held money, not yet taken)."""
    captured_at: datetime | None = None
    refunded_at: datetime | None = None
    """When the refunds first covered the whole captured amount."""

    @property
    def captured(self) -> bool:
        return self.status in CAPTURED_STATUSES


@dataclass(frozen=True, kw_only=True)
class ShipmentFact:
    carrier: str
    tracking_number: str
    status: str
    status_at: datetime
    delivered_at: datetime | None
    last_location: str | None = None
    label_at: datetime | None = None
    """When the label was bought (the shipment was created)."""
    first_scan_at: datetime | None = None
    """First scan by the carrier itself (anything but ``label_created``)."""
    last_message: str | None = None
    origin_location: str | None = None
    service: str | None = None
    estimated_delivery: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class LineFact:
    sku: str
    quantity: int
    location: str | None
    available: int | None = None
    """Stock reported at the line's location; None when no level has been reported."""
    short_since: datetime | None = None
    """Start of the latest stretch in which stock could not cover the line."""
    short_cleared_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class FraudFact:
    kind: str
    occurred_at: datetime
    score: float | None = None
    detail: str | None = None


@dataclass(frozen=True, kw_only=True)
class TicketFact:
    ticket_ref: str
    opened_at: datetime
    status: str


@dataclass(frozen=True, kw_only=True)
class OrderSnapshot:
    order_ref: str
    number: str | None
    cancelled: bool
    currency: str
    total_minor: int
    placed_at: datetime
    promised_by: datetime | None
    financial_status: FinancialStatus
    delivered_at: datetime | None
    payments: Sequence[PaymentFact] = field(default_factory=tuple)
    shipments: Sequence[ShipmentFact] = field(default_factory=tuple)
    cancelled_at: datetime | None = None
    location: str | None = None
    ship_to: Mapping[str, Any] | None = None
    lines: Sequence[LineFact] = field(default_factory=tuple)
    fraud_signals: Sequence[FraudFact] = field(default_factory=tuple)
    tickets: Sequence[TicketFact] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        """How people name the order: its store number if it has one."""
        return f"#{self.number.lstrip('#')}" if self.number else self.order_ref


def derive_financial_status(payments: Sequence[PaymentFact]) -> FinancialStatus:
    """The order's money from all its payment attempts.

    A success on any attempt wins over earlier failures (the customer retried);
    a failure stays a failure while later attempts are merely pending.
    """
    captured = [p for p in payments if p.status in CAPTURED_STATUSES]
    if captured:
        refunded = sum(p.amount_refunded_minor for p in captured)
        paid = sum(p.amount_minor for p in captured)
        if refunded <= 0:
            return FinancialStatus.PAID
        return FinancialStatus.REFUNDED if refunded >= paid else FinancialStatus.PARTIALLY_REFUNDED
    statuses = {p.status for p in payments}
    if PaymentStatus.AUTHORIZED in statuses:
        return FinancialStatus.AUTHORIZED
    if PaymentStatus.FAILED in statuses:
        return FinancialStatus.FAILED
    if statuses and statuses <= {PaymentStatus.VOIDED}:
        return FinancialStatus.VOIDED
    return FinancialStatus.PENDING


CAPTURED_STATUSES = frozenset(
    {PaymentStatus.CAPTURED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED}
)
