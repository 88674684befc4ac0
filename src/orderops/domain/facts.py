"""Read-only snapshots of an order's world that detectors judge. Plain data, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

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


@dataclass(frozen=True, kw_only=True)
class ShipmentFact:
    carrier: str
    tracking_number: str
    status: str
    status_at: datetime
    delivered_at: datetime | None
    last_location: str | None = None


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

    @property
    def label(self) -> str:
        """How people name the order: its store number if it has one."""
        return f"#{self.number.lstrip('#')}" if self.number else self.order_ref


def derive_financial_status(payments: Sequence[PaymentFact]) -> FinancialStatus:
    """The order's money from all its payment attempts.

    A success on any attempt wins over earlier failures (the customer retried);
    a failure stays a failure while later attempts are merely pending.
    """
    captured = [p for p in payments if p.status in _CAPTURED]
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


_CAPTURED = frozenset(
    {PaymentStatus.CAPTURED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED}
)
