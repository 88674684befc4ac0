"""Stuck orders: every state with a deadline, one case per order naming its state.

Placed and no payment outcome (held, taken, declined, voided) within 6 h; paid and nothing handed to a carrier by the
policy's handling deadline (or within 48 h of the payment when no window applies).
A label never scanned is pre-dispatch delay's, not this detector's.
"""

# ruff: noqa: E501  (the tables read one situation per line)
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from orderops.detect.orders import STATE_SLAS, StuckOrderDetector
from orderops.detect.thresholds import DEFAULTS
from orderops.domain.cases import ExceptionType
from orderops.domain.facts import (
    HoldFact,
    OrderSnapshot,
    PaymentFact,
    ShipmentFact,
    derive_financial_status,
)
from orderops.domain.statuses import PaymentStatus

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
SEC = timedelta(seconds=1)
P = PaymentStatus


def pay(
    status: PaymentStatus = P.AUTHORIZED, *, at: datetime = T0 + H, ref: str = "pi_1"
) -> PaymentFact:
    return PaymentFact(
        payment_ref=ref,
        provider="stripe",
        status=status,
        amount_minor=5000,
        amount_refunded_minor=0,
        currency="USD",
        status_at=at,
        created_at=at,
        authorized_at=at if status is P.AUTHORIZED else None,
        captured_at=at if status is P.CAPTURED else None,
    )


def parcel(at: datetime) -> ShipmentFact:
    return ShipmentFact(
        carrier="UPS",
        tracking_number="1Z1",
        status="label_created",
        status_at=at,
        delivered_at=None,
        label_at=at,
    )


def order(
    *,
    payments: Sequence[PaymentFact] = (pay(),),
    shipments: Sequence[ShipmentFact] = (),
    handling_due: datetime | None = None,
    cancelled_at: datetime | None = None,
    holds: Sequence[HoldFact] = (),
) -> OrderSnapshot:
    return OrderSnapshot(
        order_ref="o1",
        number="1001",
        cancelled=cancelled_at is not None,
        cancelled_at=cancelled_at,
        currency="USD",
        total_minor=5000,
        placed_at=T0,
        promised_by=T0 + 120 * H,
        financial_status=derive_financial_status(payments),
        delivered_at=None,
        payments=tuple(payments),
        shipments=tuple(shipments),
        handling_due=handling_due,
        holds=tuple(holds),
    )


PAID = T0 + H
FALLBACK = PAID + 48 * H
HANDLING = T0 + 30 * H
LATE_PAY = (pay(P.FAILED, at=T0 + H, ref="pi_0"), pay(at=HANDLING + H))
"""Declined an hour after placing, paid with another card after the handling deadline."""

CASES = [
    # name, order, now, detected, cleared, state
    ("paid, 1s short of 48h, no policy", order(), FALLBACK - SEC, False, True, None),
    ("paid, 48h and nothing shipped", order(), FALLBACK, True, False, "awaiting_fulfillment"),
    ("paid, shipped in time", order(shipments=[parcel(PAID + 20 * H)]), FALLBACK + 10 * H, False, True, None),
    ("paid, shipped after 48h", order(shipments=[parcel(FALLBACK + H)]), FALLBACK + 10 * H, True, True, "awaiting_fulfillment"),
    ("policy: 1s before the handling deadline", order(handling_due=HANDLING), HANDLING - SEC, False, True, None),
    ("policy: at the handling deadline", order(handling_due=HANDLING), HANDLING, True, False, "awaiting_fulfillment"),
    ("policy: paid after the handling deadline", order(payments=LATE_PAY, handling_due=HANDLING), HANDLING + 2 * H, False, True, None),
    ("policy: paid late, 48h later", order(payments=LATE_PAY, handling_due=HANDLING), HANDLING + 49 * H, True, False, "awaiting_fulfillment"),
    ("cancelled before the deadline", order(cancelled_at=PAID + 10 * H), FALLBACK + 100 * H, False, True, None),
    ("cancelled after the deadline", order(cancelled_at=FALLBACK + H), FALLBACK + 100 * H, True, True, "awaiting_fulfillment"),
    ("only a decline: never awaiting fulfillment", order(payments=[pay(P.FAILED)]), T0 + 500 * H, False, True, None),
    ("captured counts as paid", order(payments=[pay(P.CAPTURED)]), FALLBACK, True, False, "awaiting_fulfillment"),
    ("no payment at all, 6h", order(payments=()), T0 + 6 * H, True, False, "awaiting_payment"),
    ("a checkout still pending after 6h", order(payments=[pay(P.PENDING)]), T0 + 6 * H, True, False, "awaiting_payment"),
    ("a decline is an outcome", order(payments=[pay(P.FAILED)]), T0 + 6 * H, False, True, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("snapshot", "now", "detected", "cleared", "state"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_stuck_table(
    snapshot: OrderSnapshot, now: datetime, detected: bool, cleared: bool, state: str | None
) -> None:
    verdict = StuckOrderDetector().judge(snapshot, now=now)

    assert (verdict.detected, verdict.cleared) == (detected, cleared)
    if detected:
        assert verdict.time_based is True
        assert verdict.facts["state"] == state
        assert verdict.evidence_key == f"stuck:{state}"
        assert verdict.detected_at is not None
        assert verdict.detected_at <= now
    if cleared:
        assert verdict.clear_reason


def test_a_deadline_ahead_is_named_for_the_sweep() -> None:
    verdict = StuckOrderDetector().judge(order(handling_due=HANDLING), now=PAID + H)

    assert verdict.recheck_at == HANDLING


def test_the_detection_moment_is_the_deadline_and_the_facts_say_which() -> None:
    policy = StuckOrderDetector().judge(order(handling_due=HANDLING), now=HANDLING + 5 * H)
    fallback = StuckOrderDetector().judge(order(), now=FALLBACK + 5 * H)

    assert (policy.detected_at, policy.facts["deadline"]) == (HANDLING, "policy")
    assert (fallback.detected_at, fallback.facts["deadline"]) == (FALLBACK, "threshold")
    assert fallback.facts["sla_hours"] == 48
    assert "#1001" in policy.summary


def test_one_case_moves_from_payment_to_fulfillment_with_the_state_in_its_key() -> None:
    """Paid 10h after placing (stuck awaiting payment from 6h), then never shipped."""
    detector = StuckOrderDetector()
    late_paid = order(payments=[pay(at=T0 + 10 * H)])

    waiting = detector.judge(order(payments=()), now=T0 + 8 * H)
    paid = detector.judge(late_paid, now=T0 + 20 * H)
    unshipped = detector.judge(late_paid, now=T0 + 58 * H)

    assert (waiting.detected, waiting.cleared, waiting.evidence_key) == (
        True,
        False,
        "stuck:awaiting_payment",
    )
    assert (paid.detected, paid.cleared, paid.clear_reason) == (True, True, "payment reported")
    assert paid.recheck_at == T0 + 58 * H
    assert (unshipped.detected, unshipped.cleared, unshipped.evidence_key) == (
        True,
        False,
        "stuck:awaiting_fulfillment",
    )


def test_a_hold_is_named_in_the_stuck_case() -> None:
    hold = HoldFact(
        fulfillment_order_ref="gid://shopify/FulfillmentOrder/1",
        status="on_hold",
        reasons=("high_risk_of_fraud",),
        held_at=PAID + H,
    )
    released = replace(hold, released_at=PAID + 2 * H)

    held = StuckOrderDetector().judge(order(holds=[hold]), now=FALLBACK)
    freed = StuckOrderDetector().judge(order(holds=[released]), now=FALLBACK)

    assert "on hold (high_risk_of_fraud)" in held.summary
    assert held.facts["holds"] == [
        {"fulfillment_order": hold.fulfillment_order_ref, "reasons": ["high_risk_of_fraud"]}
    ]
    assert freed.detected is True
    assert freed.facts["holds"] == []


def test_the_tenant_sets_the_fallback_hours() -> None:
    detector = StuckOrderDetector()
    thresholds = {"awaiting_fulfillment_hours": 24}

    assert detector.judge(order(), now=PAID + 24 * H, thresholds=thresholds).detected is True
    assert detector.judge(order(), now=PAID + 24 * H).detected is False


def test_every_state_sla_is_a_default_threshold_a_policy_can_override() -> None:
    assert set(STATE_SLAS.values()) <= set(DEFAULTS[ExceptionType.STUCK_ORDER])
    assert DEFAULTS[ExceptionType.STUCK_ORDER]["awaiting_fulfillment_hours"] == 48


def test_a_decline_is_an_outcome_even_after_the_intent_is_voided_days_later() -> None:
    """The void moves the payment's status time; its first decline still answered the
    order within the hour, so the order never waited for a payment outcome."""
    declined_then_voided = replace(
        pay(P.VOIDED, at=T0 + 30 * H), failed_at=T0 + 10 * 60 * SEC, created_at=T0 + 600 * SEC
    )
    never_answered = replace(declined_then_voided, failed_at=None)

    answered = StuckOrderDetector().judge(
        order(payments=[declined_then_voided], cancelled_at=T0 + 30 * H), now=T0 + 40 * H
    )
    silent = StuckOrderDetector().judge(
        order(payments=[never_answered], cancelled_at=T0 + 30 * H), now=T0 + 40 * H
    )

    assert answered.detected is False
    assert (silent.detected, silent.cleared) == (True, True)
