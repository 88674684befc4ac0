"""Rule detectors. Each judges one exception type on an order snapshot at a given time.

A verdict separates *detected* (the exception happened: open a case) from *cleared*
(the blocker is gone: resolve the case), because a parcel delivered late was late
and still needs the case, yet nothing blocks the order any more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from orderops.domain.cases import ExceptionType
from orderops.domain.facts import OrderSnapshot
from orderops.domain.statuses import FinancialStatus, PaymentStatus


@dataclass(frozen=True, kw_only=True)
class Verdict:
    exception_type: ExceptionType
    detected: bool
    cleared: bool
    summary: str = ""
    clear_reason: str = ""
    evidence_key: str = ""
    """Identifies the signal; the same key seen again is not a new occurrence."""
    facts: dict[str, Any] = field(default_factory=dict)
    detected_at: datetime | None = None


class Detector(Protocol):
    exception_type: ExceptionType
    opens_on_events: bool
    """False for time-based rules: only a sweep (which sees settled state) may open them."""

    def judge(self, order: OrderSnapshot, *, now: datetime) -> Verdict: ...


class PaymentFailedDetector:
    exception_type = ExceptionType.PAYMENT_FAILED
    opens_on_events = True

    def judge(self, order: OrderSnapshot, *, now: datetime) -> Verdict:
        failures = [p for p in order.payments if p.status is PaymentStatus.FAILED]
        if order.financial_status in _PAID:
            return Verdict(
                exception_type=self.exception_type,
                detected=False,
                cleared=True,
                clear_reason=f"payment succeeded ({order.financial_status})",
            )
        if order.cancelled:
            return Verdict(
                exception_type=self.exception_type,
                detected=False,
                cleared=True,
                clear_reason="order cancelled",
            )
        if order.financial_status is not FinancialStatus.FAILED or not failures:
            return Verdict(exception_type=self.exception_type, detected=False, cleared=False)
        last = max(failures, key=lambda p: p.status_at)
        reason = last.failure_code or "unknown reason"
        detail = f" ({last.failure_message})" if last.failure_message else ""
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=False,
            summary=f"Payment failed for order {order.label}: {reason}{detail}",
            evidence_key=f"{last.provider}:{last.payment_ref}:{last.status_at.isoformat()}",
            detected_at=last.status_at,
            facts={
                "payment_ref": last.payment_ref,
                "provider": last.provider,
                "failure_code": last.failure_code,
                "failure_message": last.failure_message,
                "amount_minor": last.amount_minor,
                "currency": last.currency,
                "failed_attempts": len(failures),
            },
        )


class ShipmentLateDetector:
    exception_type = ExceptionType.SHIPMENT_LATE
    opens_on_events = False

    def judge(self, order: OrderSnapshot, *, now: datetime) -> Verdict:
        promised = order.promised_by
        delivered = order.delivered_at
        if delivered is not None:
            late_by = (delivered - promised) if promised else None
            reason = "delivered"
            if late_by is not None and late_by.total_seconds() > 0:
                reason = f"delivered {_hours(late_by.total_seconds())} after the promise"
            cleared = Verdict(
                exception_type=self.exception_type,
                detected=False,
                cleared=True,
                clear_reason=reason,
            )
        else:
            cleared = Verdict(exception_type=self.exception_type, detected=False, cleared=False)
        if (
            promised is None
            or promised >= now
            or order.cancelled
            or order.financial_status not in OWES_DELIVERY
            or (delivered is not None and delivered <= promised)
        ):
            return cleared
        last_scan = max(order.shipments, key=lambda s: s.status_at, default=None)
        where = (
            f"last scan {last_scan.status} at {last_scan.last_location or 'unknown location'}"
            if last_scan
            else "no shipment yet"
        )
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=cleared.cleared,
            clear_reason=cleared.clear_reason,
            summary=(
                f"Order {order.label} was promised by {promised:%Y-%m-%d %H:%M} UTC "
                f"and is not delivered ({where})"
            ),
            evidence_key=f"promise:{promised.isoformat()}",
            detected_at=promised,
            facts={
                "promised_by": promised.isoformat(),
                "delivered_at": delivered.isoformat() if delivered else None,
                "carrier": last_scan.carrier if last_scan else None,
                "tracking_number": last_scan.tracking_number if last_scan else None,
                "last_status": last_scan.status if last_scan else None,
                "total_minor": order.total_minor,
                "currency": order.currency,
            },
        )


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    if hours < 1:
        return f"{max(1, round(seconds / 60))} min"
    return f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.1f} days"


OWES_DELIVERY = (
    FinancialStatus.AUTHORIZED,
    FinancialStatus.PAID,
    FinancialStatus.PARTIALLY_REFUNDED,
)
"""Money taken or held for goods still to be delivered: only then can a shipment be late."""

_PAID = (
    FinancialStatus.AUTHORIZED,
    FinancialStatus.PAID,
    FinancialStatus.PARTIALLY_REFUNDED,
    FinancialStatus.REFUNDED,
)

DETECTORS: tuple[Detector, ...] = (PaymentFailedDetector(), ShipmentLateDetector())
