"""Money exceptions: failed, held, about to expire, suspected fraud, charged twice, refund owed.

Refunds are never payments: detectors count money taken from real payments only
(``PaymentFact.captured`` leaves out the refund records of the older Shopify mapping)
and money given back from both the provider's and the store's account of it.

Times come from the payment facts themselves (``authorized_at``, ``captured_at``,
``refunded_at``), so a deadline crossed while nobody looked is still seen, with the
moment it was crossed, and a hold that has since been captured opens already cleared.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from orderops.detect.thresholds import DEFAULTS
from orderops.detect.verdict import Thresholds, Verdict, clear, hours, quiet
from orderops.domain.cases import ExceptionType
from orderops.domain.facts import (
    OrderSnapshot,
    PaymentFact,
    returned_at,
    returned_minor,
    store_refunds,
)
from orderops.domain.statuses import FinancialStatus, PaymentStatus

T = ExceptionType

PAID = (
    FinancialStatus.AUTHORIZED,
    FinancialStatus.PAID,
    FinancialStatus.PARTIALLY_REFUNDED,
    FinancialStatus.REFUNDED,
)


def _settings(kind: ExceptionType, given: Thresholds | None) -> dict[str, float]:
    return {**DEFAULTS[kind], **(given or {})}


class PaymentFailedDetector:
    """A declined payment the order has not made good within ``grace_minutes``.

    Customers fix most declines themselves within minutes (another card, or 3-D Secure
    on the same PaymentIntent), so a decline is only an exception once the grace has
    passed with the order still unpaid. Until then the verdict waits (``recheck_at``);
    after it, the verdict is time-based and only a sweep, which reads settled state,
    opens it, so a recovery still queued in the inbox is seen first. A recovery after
    the grace opens the case already resolved (it was an exception for a while); with a
    grace of 0 the decline opens the case from its own event, as it always did. The
    decline is on the order's timeline either way: it is a payment row.
    """

    exception_type = T.PAYMENT_FAILED
    opens_on_events = True

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        grace = timedelta(minutes=_settings(self.exception_type, thresholds)["grace_minutes"])
        payments = [p for p in order.payments if not p.refund_record]
        failures = [p for p in payments if p.status is PaymentStatus.FAILED]
        paid = f"payment succeeded ({order.financial_status})"
        if not failures:
            if order.financial_status in PAID:
                return clear(self.exception_type, paid)
            if order.cancelled:
                return clear(self.exception_type, "order cancelled")
            return quiet(self.exception_type)
        started = min(p.status_at for p in failures)
        due = started + grace
        ended = _payment_settled(order, payments, started, paid)
        if ended is not None and ended[0] <= due:
            return clear(self.exception_type, ended[1])
        if due > now:
            return quiet(self.exception_type, recheck_at=due)
        last = max(failures, key=lambda p: p.status_at)
        reason = last.failure_code or "unknown reason"
        detail = f" ({last.failure_message})" if last.failure_message else ""
        unpaid = f", still unpaid {hours(grace.total_seconds())} later" if grace else ""
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=ended is not None,
            clear_reason=ended[1] if ended else "",
            summary=f"Payment failed for order {order.label}: {reason}{detail}{unpaid}",
            evidence_key=f"{last.provider}:{last.payment_ref}:{last.status_at.isoformat()}",
            detected_at=due,
            time_based=grace > timedelta(0),
            facts={
                "payment_ref": last.payment_ref,
                "provider": last.provider,
                "failure_code": last.failure_code,
                "failure_message": last.failure_message,
                "amount_minor": last.amount_minor,
                "currency": last.currency,
                "failed_attempts": len(failures),
                "failed_at": started.isoformat(),
                "grace_minutes": grace.total_seconds() / 60,
            },
        )


def _payment_settled(
    order: OrderSnapshot, payments: list[PaymentFact], failed_at: datetime, paid: str
) -> tuple[datetime, str] | None:
    """When and how an order with a decline stopped needing money: paid, or cancelled.

    Money made good before the decline counts from the decline (a failed extra charge on
    a paid order is no exception); a cancellation with no known time counts as early.
    """
    good = [t for p in payments if (t := p.good_at) is not None]
    if good or order.financial_status in PAID:
        return max(min(good, default=failed_at), failed_at), paid
    if order.cancelled:
        return max(order.cancelled_at or failed_at, failed_at), "order cancelled"
    return None


def _uncaptured_auth(order: OrderSnapshot) -> PaymentFact | None:
    """The oldest authorisation of an order with no capture, or None."""
    if any(p.captured for p in order.payments):
        return None
    held = [p for p in order.payments if p.authorized_at is not None]
    return min(held, key=lambda p: p.authorized_at or p.status_at, default=None)


def _hold_ended(order: OrderSnapshot) -> tuple[datetime, str] | None:
    """When and how money held for the order stopped being held."""
    captures = [p.captured_at for p in order.payments if p.captured and p.captured_at]
    if captures:
        return min(captures), "payment captured"
    if order.cancelled and order.cancelled_at is not None:
        return order.cancelled_at, "order cancelled"
    voided = [p.status_at for p in order.payments if p.status is PaymentStatus.VOIDED]
    if voided and not any(p.status is PaymentStatus.AUTHORIZED for p in order.payments):
        return max(voided), "authorisation voided"
    return None


class PaymentHoldDetector:
    """An authorisation waiting for capture past the threshold, or a Stripe review opened."""

    exception_type = T.PAYMENT_HOLD
    opens_on_events = True

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        wait = timedelta(hours=_settings(self.exception_type, thresholds)["capture_wait_hours"])
        ended = _hold_ended(order)
        reviews = [s for s in order.fraud_signals if s.kind == "review_opened"]
        review = min(reviews, key=lambda s: s.occurred_at, default=None)
        auths = [p.authorized_at for p in order.payments if p.authorized_at is not None]
        first_auth = min(auths, default=None)
        candidates: list[tuple[datetime, str, bool]] = []
        if review is not None and (ended is None or review.occurred_at < ended[0]):
            candidates.append((review.occurred_at, "a payment review was opened", False))
        if first_auth is not None:
            due = first_auth + wait
            if due <= (ended[0] if ended else now):
                held = f"authorised {hours(wait.total_seconds())} ago and not captured"
                candidates.append((due, held, True))
        if not candidates:
            if ended is not None:
                return clear(self.exception_type, ended[1])
            recheck = first_auth + wait if first_auth is not None else None
            return quiet(self.exception_type, recheck_at=recheck)
        at, why, time_based = min(candidates, key=lambda c: c[0])
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=ended is not None,
            clear_reason=ended[1] if ended else "",
            summary=f"Payment for order {order.label} is on hold: {why}",
            evidence_key=f"hold:{at.isoformat()}",
            detected_at=at,
            time_based=time_based,
            facts={
                "authorized_at": first_auth.isoformat() if first_auth else None,
                "review_opened_at": review.occurred_at.isoformat() if review else None,
                "total_minor": order.total_minor,
                "currency": order.currency,
            },
        )


class AuthorizationExpiringDetector:
    """Authorised, never captured, and within ``warn_hours`` of the authorisation expiring."""

    exception_type = T.AUTHORIZATION_EXPIRING
    opens_on_events = False

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        settings = _settings(self.exception_type, thresholds)
        auths = [p for p in order.payments if p.authorized_at is not None]
        if not auths:
            return quiet(self.exception_type)
        auth = min(auths, key=lambda p: p.authorized_at or p.status_at)
        assert auth.authorized_at is not None
        expires = auth.authorized_at + timedelta(days=settings["expiry_days"])
        warn_from = expires - timedelta(hours=settings["warn_hours"])
        ended = _hold_ended(order)
        if warn_from > (ended[0] if ended else now):
            if ended is not None:
                return clear(self.exception_type, ended[1])
            return quiet(self.exception_type, recheck_at=warn_from)
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=ended is not None,
            clear_reason=ended[1] if ended else "",
            summary=(
                f"The authorisation of order {order.label} expires at "
                f"{expires:%Y-%m-%d %H:%M} UTC and has not been captured"
            ),
            evidence_key=f"expiry:{auth.payment_ref}:{expires.isoformat()}",
            detected_at=warn_from,
            time_based=True,
            facts={
                "payment_ref": auth.payment_ref,
                "authorized_at": auth.authorized_at.isoformat(),
                "expires_at": expires.isoformat(),
                "amount_minor": auth.amount_minor,
                "currency": auth.currency,
            },
        )


FRAUD_KINDS = frozenset({"early_fraud_warning", "dispute", "review_opened"})


class FraudReviewDetector:
    """An early fraud warning, a dispute, or a risk score at or above the threshold."""

    exception_type = T.FRAUD_REVIEW
    opens_on_events = True

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        limit = _settings(self.exception_type, thresholds)["risk_score"]
        hits = [
            s
            for s in order.fraud_signals
            if s.kind in FRAUD_KINDS or (s.score is not None and s.score >= limit)
        ]
        if order.cancelled:
            return clear(self.exception_type, "order cancelled")
        if order.financial_status is FinancialStatus.REFUNDED:
            return clear(self.exception_type, "payment refunded")
        if not hits:
            return quiet(self.exception_type)
        first, last = hits[0], hits[-1]
        what = last.kind if last.score is None else f"{last.kind} (score {last.score:g})"
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=False,
            summary=f"Order {order.label} needs a fraud review: {what}",
            evidence_key=f"fraud:{last.kind}:{last.occurred_at.isoformat()}",
            detected_at=first.occurred_at,
            facts={
                "signals": [
                    {"kind": s.kind, "score": s.score, "at": s.occurred_at.isoformat()}
                    for s in hits
                ],
                "threshold": limit,
                "total_minor": order.total_minor,
                "currency": order.currency,
            },
        )


class DuplicateChargeDetector:
    """Two or more captured payments whose net sum exceeds the order total.

    Only money taken counts as a charge: a store refund (and a refund record of the older
    Shopify mapping) is money given back, and the total is the order's original total,
    so refunding part of an order can never make its one payment look like two.
    """

    exception_type = T.DUPLICATE_CHARGE
    opens_on_events = True

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        captured = [p for p in order.payments if p.captured]
        if len(captured) < 2:
            return quiet(self.exception_type)
        net = sum(p.amount_minor for p in captured) - returned_minor(captured, store_refunds(order))
        ordered = sorted(captured, key=lambda p: p.captured_at or p.status_at)
        running, at = 0, None
        for payment in ordered:
            running += payment.amount_minor
            if running > order.total_minor:
                at = payment.captured_at or payment.status_at
                break
        if at is None:
            return quiet(self.exception_type)
        if net <= order.total_minor:
            return Verdict(
                exception_type=self.exception_type,
                detected=True,
                cleared=True,
                clear_reason="the extra charge was refunded",
                summary=f"Order {order.label} was charged twice",
                evidence_key=f"dup:{at.isoformat()}",
                detected_at=at,
            )
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=False,
            summary=(
                f"Order {order.label} was charged {len(captured)} times: "
                f"{net / 100:.2f} {order.currency} taken for a {order.total_minor / 100:.2f} total"
            ),
            evidence_key=f"dup:{at.isoformat()}",
            detected_at=at,
            facts={
                "payment_refs": [p.payment_ref for p in ordered],
                "over_minor": net - order.total_minor,
                "currency": order.currency,
            },
        )


class RefundPendingDetector:
    """A cancelled order whose captured money is not fully returned within the threshold.

    Money comes back either as the payment provider's refund (a Stripe charge's
    ``amount_refunded``) or as the store's refund (an ``order_refunds`` row); the larger
    account counts (``domain.facts.returned_minor``), and the refund is complete at the
    first moment either account covers everything captured.
    """

    exception_type = T.REFUND_PENDING
    opens_on_events = False

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        limit = timedelta(hours=_settings(self.exception_type, thresholds)["refund_hours"])
        captured = [p for p in order.payments if p.captured]
        if not order.cancelled or order.cancelled_at is None or not captured:
            return quiet(self.exception_type)
        taken = sum(p.amount_minor for p in captured)
        refunds = store_refunds(order)
        owed = taken - returned_minor(captured, refunds)
        done_at = returned_at(captured, refunds, owed=taken) if owed <= 0 else None
        due = order.cancelled_at + limit
        if due > (done_at or now):
            if done_at is not None:
                return clear(self.exception_type, "refund completed")
            return quiet(self.exception_type, recheck_at=due)
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=done_at is not None,
            clear_reason="refund completed" if done_at else "",
            summary=(
                f"Order {order.label} was cancelled "
                f"{hours((now - order.cancelled_at).total_seconds())}"
                f" ago and {max(owed, 0) / 100:.2f} {order.currency} is still to be refunded"
            ),
            evidence_key=f"refund:{order.cancelled_at.isoformat()}",
            detected_at=due,
            time_based=True,
            facts={"owed_minor": max(owed, 0), "currency": order.currency},
        )
