"""Read-only snapshots of an order's world that detectors judge. Plain data, no I/O.

Every fact a time-based detector needs is kept with the moment it became true
(``authorized_at``, ``first_scan_at``, ``short_since`` ...), so a sweep that runs late,
or after a backfill, can still tell *when* a threshold was crossed and whether the
blocker has cleared since, instead of only seeing the present.

Money the store gave back is a ``RefundFact``, never a payment: a refund is not a second
charge. Payments still carry what their own provider reports refunded (a Stripe charge's
``amount_refunded``); the two describe the same money seen from two systems, so money
returned is the larger of the two, never their sum (``returned_minor``).
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
    failed_at: datetime | None = None
    """First decline: the payment's outcome, even when the intent is voided later."""

    @property
    def captured(self) -> bool:
        return self.status in CAPTURED_STATUSES and not self.refund_record

    @property
    def refund_record(self) -> bool:
        """A store refund that an older Shopify mapping stored as a payment.

        Before refunds had a table of their own, ``refunds/create`` became a payment
        ``shopify-order-<id>`` reported "partially refunded" by exactly the amount it
        holds; rows written then are still in the database and are money returned, never
        money taken. (Money really taken at Shopify under that ref is ``captured``, or
        partially refunded by less than it holds, and stays a payment.)
        """
        return (
            self.provider == "shopify"
            and self.payment_ref.startswith(REFUND_RECORD_PREFIX)
            and self.status is PaymentStatus.PARTIALLY_REFUNDED
            and 0 < self.amount_minor <= self.amount_refunded_minor
        )

    @property
    def outcome_at(self) -> datetime | None:
        """When the provider first said how the payment went: held, taken, declined or
        voided. A payment still pending (or awaiting 3-D Secure) has no outcome yet."""
        if self.refund_record:
            return None
        times = [t for t in (self.authorized_at, self.captured_at, self.failed_at) if t]
        if self.status in (PaymentStatus.FAILED, PaymentStatus.VOIDED):
            times.append(self.status_at)
        return min(times, default=None)

    @property
    def good_at(self) -> datetime | None:
        """When the money became good (held or taken), or None if it is not good now."""
        if self.refund_record or self.status not in GOOD_STATUSES:
            return None
        times = [t for t in (self.authorized_at, self.captured_at) if t is not None]
        return min(times, default=self.status_at)


REFUND_RECORD_PREFIX = "shopify-order-"


@dataclass(frozen=True, kw_only=True)
class RefundFact:
    """Money the store returned on the order (a Shopify refund), when it was processed."""

    refund_ref: str
    source: str
    amount_minor: int
    currency: str
    processed_at: datetime
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class HoldFact:
    """A fulfillment order the merchant (or a fraud check) put on hold."""

    fulfillment_order_ref: str
    status: str
    reasons: Sequence[str] = ()
    held_at: datetime | None = None
    released_at: datetime | None = None

    @property
    def holding(self) -> bool:
        return self.held_at is not None and self.released_at is None


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
    ticket_class: str | None = None
    """The ticket classifier's class (domain/ticket_classes.py), "other" when unsure."""
    ticket_class_confidence: float | None = None


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
    refunds: Sequence[RefundFact] = field(default_factory=tuple)
    holds: Sequence[HoldFact] = field(default_factory=tuple)
    handling_due: datetime | None = None
    """End of the business day by which the policy's window wants the parcel with the
    carrier; None when the tenant has no policy or no window applies to the order."""

    @property
    def label(self) -> str:
        """How people name the order: its store number if it has one."""
        return f"#{self.number.lstrip('#')}" if self.number else self.order_ref


def store_refunds(order: OrderSnapshot) -> list[RefundFact]:
    """The store's refunds, counting the refund records of the older Shopify mapping."""
    both = [*order.refunds, *legacy_refunds(order.payments)]
    return sorted(both, key=lambda r: (r.processed_at, r.refund_ref))


def legacy_refunds(payments: Sequence[PaymentFact]) -> list[RefundFact]:
    """The refund records among ``payments``, as the refunds they are."""
    return [
        RefundFact(
            refund_ref=p.payment_ref,
            source=p.provider,
            amount_minor=p.amount_refunded_minor,
            currency=p.currency,
            processed_at=p.refunded_at or p.status_at,
        )
        for p in payments
        if p.refund_record
    ]


def returned_minor(captured: Sequence[PaymentFact], refunds: Sequence[RefundFact]) -> int:
    """Money given back: the providers' refunds or the store's, whichever says more.

    A Shopify refund of a Stripe payment shows up in both systems, so adding them would
    count the same money twice; the larger one also covers a refund only one side saw.
    """
    by_provider = sum(p.amount_refunded_minor for p in captured)
    return max(by_provider, sum(r.amount_minor for r in refunds))


def returned_at(
    captured: Sequence[PaymentFact], refunds: Sequence[RefundFact], *, owed: int
) -> datetime | None:
    """The first moment the money given back covered ``owed``, by either account of it."""
    moments: list[datetime] = []
    provider_done = captured and all(p.refunded_at is not None for p in captured)
    if provider_done and sum(p.amount_refunded_minor for p in captured) >= owed:
        moments.append(max(p.refunded_at for p in captured if p.refunded_at is not None))
    running = 0
    for refund in sorted(refunds, key=lambda r: r.processed_at):
        running += refund.amount_minor
        if running >= owed:
            moments.append(refund.processed_at)
            break
    return min(moments, default=None)


def derive_financial_status(
    payments: Sequence[PaymentFact], refunds: Sequence[RefundFact] = ()
) -> FinancialStatus:
    """The order's money from all its payment attempts and the store's refunds.

    A success on any attempt wins over earlier failures (the customer retried);
    a failure stays a failure while later attempts are merely pending. Refund records
    of the older Shopify mapping count as refunds, never as payments.
    """
    legacy = legacy_refunds(payments)
    payments = [p for p in payments if not p.refund_record]
    captured = [p for p in payments if p.status in CAPTURED_STATUSES]
    if captured:
        refunded = returned_minor(captured, [*refunds, *legacy])
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
GOOD_STATUSES = CAPTURED_STATUSES | {PaymentStatus.AUTHORIZED}
"""Money held or taken: the order is paid for as far as fulfilment is concerned."""
