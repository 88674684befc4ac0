"""Refunds are not charges.

A store refund (an ``order_refunds`` row) and a refund record of the older Shopify
mapping (payment ``shopify-order-<id>``, partially refunded by all it holds) are money
given back: they never make one payment look like two, they count as money returned on
a cancelled order, and a refund seen by both Stripe and Shopify is counted once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from orderops.detect.payments import DuplicateChargeDetector, RefundPendingDetector
from orderops.domain.facts import (
    OrderSnapshot,
    PaymentFact,
    RefundFact,
    derive_financial_status,
    returned_minor,
    store_refunds,
)
from orderops.domain.statuses import FinancialStatus, PaymentStatus

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
P = PaymentStatus
CANCELLED = T0 + 3 * H


def captured(ref: str = "pi_1", *, amount: int = 5000, refunded: int = 0) -> PaymentFact:
    status = P.CAPTURED if refunded == 0 else P.PARTIALLY_REFUNDED
    return PaymentFact(
        payment_ref=ref,
        provider="stripe",
        status=P.REFUNDED if refunded >= amount else status,
        amount_minor=amount,
        amount_refunded_minor=refunded,
        currency="USD",
        status_at=T0 + H,
        captured_at=T0 + H,
        refunded_at=T0 + 10 * H if refunded >= amount else None,
    )


def legacy_refund(amount: int, *, at: datetime = T0 + 5 * H) -> PaymentFact:
    """What ``refunds/create`` became before refunds had a table: a fake payment."""
    return PaymentFact(
        payment_ref="shopify-order-820982911946154508",
        provider="shopify",
        status=P.PARTIALLY_REFUNDED,
        amount_minor=amount,
        amount_refunded_minor=amount,
        currency="USD",
        status_at=at,
        captured_at=at,
        refunded_at=at,
    )


def refund(amount: int, *, at: datetime, ref: str = "r1") -> RefundFact:
    return RefundFact(
        refund_ref=ref, source="shopify", amount_minor=amount, currency="USD", processed_at=at
    )


def order(
    payments: Sequence[PaymentFact],
    refunds: Sequence[RefundFact] = (),
    *,
    cancelled_at: datetime | None = None,
) -> OrderSnapshot:
    return OrderSnapshot(
        order_ref="820982911946154508",
        number="1001",
        cancelled=cancelled_at is not None,
        cancelled_at=cancelled_at,
        currency="USD",
        total_minor=5000,
        placed_at=T0,
        promised_by=None,
        financial_status=derive_financial_status(payments, refunds),
        delivered_at=None,
        payments=tuple(payments),
        refunds=tuple(refunds),
    )


NOW = T0 + 100 * H


@pytest.mark.parametrize(
    "snapshot",
    [
        order([captured(), legacy_refund(1000)]),
        order([captured(), legacy_refund(5000)]),
        order([captured()], [refund(1000, at=T0 + 5 * H)]),
        order([captured()], [refund(1000, at=T0 + 5 * H), refund(4000, at=T0 + 6 * H, ref="r2")]),
    ],
    ids=["old partial refund", "old full refund", "one refund", "two refunds"],
)
def test_a_refunded_order_is_never_charged_twice(snapshot: OrderSnapshot) -> None:
    verdict = DuplicateChargeDetector().judge(snapshot, now=NOW)

    assert (verdict.detected, verdict.cleared) == (False, False)


def test_a_real_double_charge_refunded_by_the_store_opens_already_resolved() -> None:
    twice = [captured(), captured("pi_2")]
    kept = DuplicateChargeDetector().judge(order(twice), now=NOW)
    returned = DuplicateChargeDetector().judge(
        order(twice, [refund(5000, at=T0 + 20 * H)]), now=NOW
    )

    assert (kept.detected, kept.cleared) == (True, False)
    assert kept.facts["over_minor"] == 5000
    assert (returned.detected, returned.cleared) == (True, True)


def test_a_partial_refund_of_a_double_charge_leaves_it_open_with_what_is_over() -> None:
    verdict = DuplicateChargeDetector().judge(
        order([captured(), captured("pi_2")], [refund(2000, at=T0 + 20 * H)]), now=NOW
    )

    assert (verdict.detected, verdict.cleared) == (True, False)
    assert verdict.facts["over_minor"] == 3000
    assert verdict.facts["payment_refs"] == ["pi_1", "pi_2"]


@pytest.mark.parametrize(
    ("refunds", "detected", "cleared"),
    [
        ([refund(5000, at=CANCELLED + 10 * H)], False, True),
        ([refund(5000, at=CANCELLED + 60 * H)], True, True),
        (
            [refund(2000, at=CANCELLED + H), refund(3000, at=CANCELLED + 5 * H, ref="r2")],
            False,
            True,
        ),
        ([refund(2000, at=CANCELLED + H)], True, False),
        ([], True, False),
    ],
    ids=["refunded in time", "refunded late", "in two parts", "partly", "not at all"],
)
def test_a_store_refund_is_money_returned_on_a_cancelled_order(
    refunds: list[RefundFact], detected: bool, cleared: bool
) -> None:
    snapshot = order([captured()], refunds, cancelled_at=CANCELLED)

    verdict = RefundPendingDetector().judge(snapshot, now=NOW)

    assert (verdict.detected, verdict.cleared) == (detected, cleared)


def test_what_is_still_owed_counts_the_store_refunds() -> None:
    snapshot = order([captured()], [refund(2000, at=CANCELLED + H)], cancelled_at=CANCELLED)

    verdict = RefundPendingDetector().judge(snapshot, now=NOW)

    assert verdict.facts["owed_minor"] == 3000
    assert "30.00 USD is still to be refunded" in verdict.summary


def test_an_old_refund_record_counts_as_the_refund_of_a_cancelled_order() -> None:
    done = legacy_refund(5000, at=CANCELLED + 2 * H)
    verdict = RefundPendingDetector().judge(
        order([captured(), done], cancelled_at=CANCELLED), now=NOW
    )

    assert (verdict.detected, verdict.cleared, verdict.clear_reason) == (
        False,
        True,
        "refund completed",
    )


def test_one_refund_seen_by_stripe_and_by_shopify_is_counted_once() -> None:
    """Half refunded in Shopify, which refunds the Stripe charge: the same 25.00 twice."""
    half_at_stripe = captured(refunded=2500)
    half_at_shop = refund(2500, at=CANCELLED + H)
    snapshot = order([half_at_stripe], [half_at_shop], cancelled_at=CANCELLED)

    verdict = RefundPendingDetector().judge(snapshot, now=NOW)

    assert returned_minor([half_at_stripe], [half_at_shop]) == 2500
    assert verdict.facts["owed_minor"] == 2500
    assert snapshot.financial_status is FinancialStatus.PARTIALLY_REFUNDED


@pytest.mark.parametrize(
    ("payments", "refunds", "status"),
    [
        ([captured(), legacy_refund(1000)], [], FinancialStatus.PARTIALLY_REFUNDED),
        ([legacy_refund(1000)], [], FinancialStatus.PENDING),
        ([captured()], [refund(5000, at=T0 + 5 * H)], FinancialStatus.REFUNDED),
        ([captured()], [refund(100, at=T0 + 5 * H)], FinancialStatus.PARTIALLY_REFUNDED),
        ([captured()], [], FinancialStatus.PAID),
    ],
    ids=["old record", "old record alone", "store full", "store part", "none"],
)
def test_the_financial_status_counts_refunds_as_refunds(
    payments: list[PaymentFact], refunds: list[RefundFact], status: FinancialStatus
) -> None:
    assert derive_financial_status(payments, refunds) is status


def test_money_really_taken_at_shopify_stays_a_payment() -> None:
    """The same ref, captured (or refunded by less than it holds), is a real payment."""
    taken = PaymentFact(
        payment_ref="shopify-order-1001",
        provider="shopify",
        status=P.CAPTURED,
        amount_minor=5000,
        amount_refunded_minor=0,
        currency="USD",
        status_at=T0,
    )
    partly = PaymentFact(
        payment_ref="shopify-order-1001",
        provider="shopify",
        status=P.PARTIALLY_REFUNDED,
        amount_minor=5000,
        amount_refunded_minor=1000,
        currency="USD",
        status_at=T0,
    )

    assert taken.captured
    assert partly.captured
    assert store_refunds(order([taken])) == []
    assert legacy_refund(1000).captured is False
    assert [r.amount_minor for r in store_refunds(order([legacy_refund(1000)]))] == [1000]
