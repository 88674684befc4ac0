"""The rule detectors, judged on order snapshots built directly (no database).

Payment failed opens once a decline has gone unpaid for the grace (30 minutes by
default; from a sweep, or from the event itself with a grace of 0) and clears once
money arrives or the order is cancelled. Shipment late opens only on a sweep, strictly
after the promise has passed, and a late delivery is both detected (it was late) and
cleared (nothing blocks now).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from orderops.detect.rules import PaymentFailedDetector, ShipmentLateDetector
from orderops.domain.cases import ExceptionType
from orderops.domain.facts import OrderSnapshot, PaymentFact, ShipmentFact, derive_financial_status
from orderops.domain.statuses import FinancialStatus, PaymentStatus

PLACED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PROMISED = PLACED + timedelta(days=3)

P = PaymentStatus


def pay(
    status: PaymentStatus,
    *,
    at: datetime = PLACED,
    ref: str = "pi_1",
    code: str | None = None,
    message: str | None = None,
) -> PaymentFact:
    return PaymentFact(
        payment_ref=ref,
        provider="stripe",
        status=status,
        amount_minor=5000,
        amount_refunded_minor=0,
        currency="USD",
        status_at=at,
        failure_code=code,
        failure_message=message,
    )


def scan(
    status: str = "in_transit", *, at: datetime, location: str | None = "Memphis, TN"
) -> ShipmentFact:
    return ShipmentFact(
        carrier="UPS",
        tracking_number="1Z999",
        status=status,
        status_at=at,
        delivered_at=None,
        last_location=location,
    )


def order(
    *,
    payments: Sequence[PaymentFact] = (),
    financial_status: FinancialStatus | None = None,
    cancelled: bool = False,
    number: str | None = "1001",
    promised_by: datetime | None = PROMISED,
    delivered_at: datetime | None = None,
    shipments: Sequence[ShipmentFact] = (),
) -> OrderSnapshot:
    """An order whose financial status follows its payments unless a test says otherwise."""
    return OrderSnapshot(
        order_ref="gid://shop/Order/77",
        number=number,
        cancelled=cancelled,
        currency="USD",
        total_minor=5000,
        placed_at=PLACED,
        promised_by=promised_by,
        financial_status=financial_status or derive_financial_status(payments),
        delivered_at=delivered_at,
        payments=tuple(payments),
        shipments=tuple(shipments),
    )


def paid() -> list[PaymentFact]:
    return [pay(P.CAPTURED)]


DECLINED = pay(P.FAILED, code="card_declined", message="Your card was declined.")
NOW = PLACED + timedelta(hours=1)
GRACE = timedelta(minutes=30)


# --- payment failed -------------------------------------------------------------------


def test_payment_failed_fires_and_names_the_order_and_the_failure_code() -> None:
    verdict = PaymentFailedDetector().judge(order(payments=[DECLINED]), now=NOW)

    assert verdict.exception_type is ExceptionType.PAYMENT_FAILED
    assert verdict.detected is True
    assert verdict.cleared is False
    assert "#1001" in verdict.summary
    assert "card_declined" in verdict.summary
    assert "Your card was declined." in verdict.summary
    assert verdict.detected_at == DECLINED.status_at + GRACE
    assert verdict.time_based is True
    assert verdict.facts["failure_code"] == "card_declined"
    assert verdict.facts["failed_attempts"] == 1


def test_payment_failed_names_the_order_by_its_ref_when_it_has_no_number() -> None:
    verdict = PaymentFailedDetector().judge(order(payments=[DECLINED], number=None), now=NOW)

    assert "gid://shop/Order/77" in verdict.summary


def test_payment_failed_without_a_code_still_says_why_it_is_unknown() -> None:
    verdict = PaymentFailedDetector().judge(order(payments=[pay(P.FAILED)]), now=NOW)

    assert verdict.detected is True
    assert "unknown reason" in verdict.summary


def test_the_same_failure_judged_twice_keeps_its_evidence_key() -> None:
    detector = PaymentFailedDetector()
    first = detector.judge(order(payments=[DECLINED]), now=NOW)
    again = detector.judge(order(payments=[DECLINED]), now=NOW + timedelta(hours=1))

    assert first.evidence_key != ""
    assert again.evidence_key == first.evidence_key


def test_a_new_failure_changes_the_evidence_key_and_is_the_one_reported() -> None:
    retry = pay(P.FAILED, at=PLACED + timedelta(minutes=10), ref="pi_2", code="insufficient_funds")
    detector = PaymentFailedDetector()
    first = detector.judge(order(payments=[DECLINED]), now=NOW)
    second = detector.judge(order(payments=[DECLINED, retry]), now=NOW)

    assert second.detected is True
    assert second.evidence_key != first.evidence_key
    assert "insufficient_funds" in second.summary
    assert second.facts["failed_attempts"] == 2


@pytest.mark.parametrize(
    "success",
    [P.CAPTURED, P.AUTHORIZED],
    ids=str,
)
def test_payment_failed_clears_once_a_retry_succeeds(success: PaymentStatus) -> None:
    retry = pay(success, at=PLACED + timedelta(minutes=10), ref="pi_2")
    verdict = PaymentFailedDetector().judge(order(payments=[DECLINED, retry]), now=NOW)

    assert verdict.detected is False
    assert verdict.cleared is True
    assert "payment" in verdict.clear_reason


def test_payment_failed_clears_when_the_order_is_cancelled() -> None:
    verdict = PaymentFailedDetector().judge(order(payments=[DECLINED], cancelled=True), now=NOW)

    assert verdict.detected is False
    assert verdict.cleared is True
    assert "cancelled" in verdict.clear_reason


@pytest.mark.parametrize(
    "payments",
    [[], [pay(P.PENDING)], [pay(P.REQUIRES_ACTION)]],
    ids=["no payment yet", "pending", "requires action"],
)
def test_payment_failed_stays_silent_while_payment_is_pending(
    payments: list[PaymentFact],
) -> None:
    verdict = PaymentFailedDetector().judge(order(payments=payments), now=NOW)

    assert verdict.detected is False
    assert verdict.cleared is False


def test_a_decline_waits_for_its_grace_before_anything_opens() -> None:
    verdict = PaymentFailedDetector().judge(
        order(payments=[DECLINED]), now=PLACED + GRACE - timedelta(seconds=1)
    )

    assert (verdict.detected, verdict.cleared) == (False, False)
    assert verdict.recheck_at == PLACED + GRACE


@pytest.mark.parametrize("after", [timedelta(minutes=3), GRACE], ids=["3 min", "at the grace"])
def test_a_decline_paid_within_the_grace_opens_nothing(after: timedelta) -> None:
    """The same PaymentIntent succeeding (or a new one) inside the grace is a recovery."""
    recovered = pay(P.CAPTURED, at=PLACED + after, ref="pi_2")
    verdict = PaymentFailedDetector().judge(
        order(payments=[DECLINED, recovered]), now=PLACED + timedelta(days=1)
    )

    assert (verdict.detected, verdict.cleared) == (False, True)


def test_a_decline_paid_after_the_grace_opens_already_resolved() -> None:
    late = pay(P.AUTHORIZED, at=PLACED + timedelta(hours=2), ref="pi_2")
    verdict = PaymentFailedDetector().judge(
        order(payments=[DECLINED, late]), now=PLACED + timedelta(hours=3)
    )

    assert (verdict.detected, verdict.cleared) == (True, True)
    assert verdict.detected_at == PLACED + GRACE
    assert "payment succeeded" in verdict.clear_reason


def test_the_grace_counts_from_the_first_decline_whatever_order_they_are_listed_in() -> None:
    again = pay(P.FAILED, at=PLACED + timedelta(minutes=20), ref="pi_2", code="expired_card")
    for payments in ([DECLINED, again], [again, DECLINED]):
        verdict = PaymentFailedDetector().judge(
            order(payments=payments), now=PLACED + timedelta(minutes=31)
        )
        assert verdict.detected is True
        assert verdict.detected_at == PLACED + GRACE
        assert "expired_card" in verdict.summary, "the latest decline is the one reported"


def test_an_order_cancelled_within_the_grace_opens_nothing_and_after_it_opens_resolved() -> None:
    def judged(cancelled_at: datetime) -> tuple[bool, bool]:
        snapshot = replace(order(payments=[DECLINED], cancelled=True), cancelled_at=cancelled_at)
        verdict = PaymentFailedDetector().judge(snapshot, now=PLACED + timedelta(days=1))
        return verdict.detected, verdict.cleared

    assert judged(PLACED + timedelta(minutes=10)) == (False, True)
    assert judged(PLACED + timedelta(hours=12)) == (True, True)


def test_a_failed_extra_charge_on_a_paid_order_is_no_exception() -> None:
    extra = pay(P.FAILED, at=PLACED + timedelta(hours=5), ref="pi_2", code="card_declined")
    verdict = PaymentFailedDetector().judge(
        order(payments=[pay(P.CAPTURED), extra]), now=PLACED + timedelta(days=1)
    )

    assert (verdict.detected, verdict.cleared) == (False, True)


def test_a_grace_of_zero_opens_on_the_decline_itself() -> None:
    verdict = PaymentFailedDetector().judge(
        order(payments=[DECLINED]), now=PLACED, thresholds={"grace_minutes": 0}
    )

    assert verdict.detected is True
    assert verdict.time_based is False
    assert verdict.detected_at == DECLINED.status_at


def test_the_tenant_sets_the_grace() -> None:
    detector = PaymentFailedDetector()
    snapshot = order(payments=[DECLINED])
    longer = detector.judge(snapshot, now=NOW, thresholds={"grace_minutes": 90})

    assert longer.detected is False
    assert longer.recheck_at == PLACED + timedelta(minutes=90)


# --- shipment late --------------------------------------------------------------------


def test_shipment_late_fires_once_the_promise_has_passed_undelivered() -> None:
    now = PROMISED + timedelta(hours=2)
    last = scan(at=PROMISED - timedelta(hours=5))
    verdict = ShipmentLateDetector().judge(order(payments=paid(), shipments=[last]), now=now)

    assert verdict.exception_type is ExceptionType.SHIPMENT_LATE
    assert verdict.detected is True
    assert verdict.cleared is False
    assert "#1001" in verdict.summary
    assert "Memphis, TN" in verdict.summary
    assert verdict.detected_at == PROMISED
    assert verdict.evidence_key == f"promise:{PROMISED.isoformat()}"
    assert verdict.facts["tracking_number"] == "1Z999"


def test_shipment_late_without_any_shipment_says_so() -> None:
    verdict = ShipmentLateDetector().judge(
        order(payments=paid()), now=PROMISED + timedelta(minutes=1)
    )

    assert verdict.detected is True
    assert "no shipment yet" in verdict.summary


def test_an_authorized_order_counts_as_paid_for_lateness() -> None:
    verdict = ShipmentLateDetector().judge(
        order(payments=[pay(P.AUTHORIZED)]), now=PROMISED + timedelta(minutes=1)
    )

    assert verdict.detected is True


def test_a_partially_refunded_order_still_has_goods_to_deliver() -> None:
    """Refunding one line does not release the shop from shipping the rest on time."""
    partly = PaymentFact(
        payment_ref="pi_1",
        provider="stripe",
        status=P.PARTIALLY_REFUNDED,
        amount_minor=5000,
        amount_refunded_minor=1000,
        currency="USD",
        status_at=PLACED,
    )
    snapshot = order(payments=[partly])
    verdict = ShipmentLateDetector().judge(snapshot, now=PROMISED + timedelta(hours=1))

    assert snapshot.financial_status is FinancialStatus.PARTIALLY_REFUNDED
    assert verdict.detected is True


def test_shipment_late_does_not_fire_at_the_promise_itself() -> None:
    detector = ShipmentLateDetector()
    at_promise = detector.judge(order(payments=paid()), now=PROMISED)
    just_after = detector.judge(order(payments=paid()), now=PROMISED + timedelta(microseconds=1))

    assert at_promise.detected is False
    assert just_after.detected is True


@pytest.mark.parametrize(
    ("payments", "cancelled"),
    [
        ([], False),
        ([pay(P.PENDING)], False),
        ([pay(P.FAILED, code="card_declined")], False),
        ([pay(P.CAPTURED)], True),
    ],
    ids=["no payment", "payment pending", "payment failed", "cancelled"],
)
def test_shipment_late_ignores_unpaid_and_cancelled_orders(
    payments: list[PaymentFact], cancelled: bool
) -> None:
    verdict = ShipmentLateDetector().judge(
        order(payments=payments, cancelled=cancelled), now=PROMISED + timedelta(days=2)
    )

    assert verdict.detected is False


def test_shipment_late_ignores_an_order_without_a_promise() -> None:
    verdict = ShipmentLateDetector().judge(
        order(payments=paid(), promised_by=None), now=PROMISED + timedelta(days=30)
    )

    assert verdict.detected is False


@pytest.mark.parametrize(
    "delivered_at",
    [PROMISED - timedelta(days=1), PROMISED],
    ids=["a day early", "exactly at the promise"],
)
def test_delivery_on_time_is_not_late_and_clears(delivered_at: datetime) -> None:
    verdict = ShipmentLateDetector().judge(
        order(payments=paid(), delivered_at=delivered_at), now=PROMISED + timedelta(days=2)
    )

    assert verdict.detected is False
    assert verdict.cleared is True
    assert "after the promise" not in verdict.clear_reason


@pytest.mark.parametrize(
    ("late_by", "said"),
    [
        (timedelta(hours=26), "26h"),
        (timedelta(days=3), "3.0 days"),
        (timedelta(days=2, hours=12), "2.5 days"),
    ],
    ids=["26 hours", "3 days", "2.5 days"],
)
def test_late_delivery_is_detected_and_cleared_and_says_how_late(
    late_by: timedelta, said: str
) -> None:
    delivered_at = PROMISED + late_by
    verdict = ShipmentLateDetector().judge(
        order(payments=paid(), delivered_at=delivered_at), now=delivered_at + timedelta(hours=1)
    )

    assert verdict.detected is True
    assert verdict.cleared is True
    assert verdict.clear_reason == f"delivered {said} after the promise"
    assert verdict.facts["delivered_at"] == delivered_at.isoformat()


def test_only_payment_failed_may_open_a_case_from_an_event() -> None:
    assert PaymentFailedDetector().opens_on_events is True
    assert ShipmentLateDetector().opens_on_events is False
