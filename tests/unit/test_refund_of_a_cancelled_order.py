"""A refund decided because the order is cancelled carries that cancellation as a fact for
Shopify to confirm: the cancellation came by webhook, and a webhook's topic is unsigned."""

from __future__ import annotations

import pytest

from orderops.domain.actions import ActionContext, Effect, PaymentInfo, System
from orderops.writeback.vendor_effects import VendorFacts, vendor_effects

FACTS = VendorFacts(financial_status="paid")


def context(provider: str, *, order_ref: str = "1001", cancelled: bool) -> ActionContext:
    payment_ref = "pi_1" if provider == "stripe" else f"shopify-order-{order_ref}"
    return ActionContext(
        order_ref=order_ref,
        currency="USD",
        order_total_minor=5000,
        cancelled=cancelled,
        payments=(
            PaymentInfo(
                payment_ref=payment_ref, provider=provider, status="captured", amount_minor=5000
            ),
        ),
    )


def refund(context: ActionContext) -> Effect:
    (payment,) = context.payments
    return Effect(
        System.PAYMENTS,
        "refund",
        {
            "order_ref": context.order_ref,
            "currency": "USD",
            "payment_ref": payment.payment_ref,
            "reason": "order cancelled",
            "amount_minor": 5000,
        },
    )


def test_a_stripe_refund_of_a_cancelled_shopify_order_asks_shopify_to_confirm() -> None:
    cancelled = context("stripe", cancelled=True)

    (mapped,) = vendor_effects([refund(cancelled)], cancelled, FACTS)

    assert (mapped.system, mapped.operation) == ("stripe", "refund")
    assert mapped.payload["order_id"] == 1001
    assert mapped.payload["expect"] == {
        "status": "succeeded",
        "refunded_minor": 0,
        "cancelled": True,
    }


def test_a_stripe_refund_of_a_live_order_rests_on_no_cancellation() -> None:
    live = context("stripe", cancelled=False)

    (mapped,) = vendor_effects([refund(live)], live, FACTS)

    assert "cancelled" not in mapped.payload["expect"]
    assert "order_id" not in mapped.payload


def test_an_order_shopify_never_had_is_not_confirmed_there() -> None:
    """A reference that is no Shopify id came from another channel (CSV, the events API),
    where the sender is authenticated as a whole; Shopify cannot be asked about it."""
    elsewhere = context("stripe", order_ref="csv-77", cancelled=True)

    (mapped,) = vendor_effects([refund(elsewhere)], elsewhere, FACTS)

    assert "cancelled" not in mapped.payload["expect"]


@pytest.mark.parametrize("cancelled", [True, False])
def test_a_shopify_refund_expects_the_cancellation_state_the_decision_saw(
    cancelled: bool,
) -> None:
    seen = context("shopify", cancelled=cancelled)

    (mapped,) = vendor_effects([refund(seen)], seen, FACTS)

    assert (mapped.system, mapped.operation) == ("shopify", "refund")
    assert mapped.payload["expect"]["cancelled"] is cancelled


def test_our_own_cancel_and_refund_waits_for_no_confirmation() -> None:
    live = context("stripe", cancelled=False)
    cancel = Effect(
        System.OMS,
        "cancel_order",
        {"order_ref": "1001", "reason": "customer", "refund": True, "restock": False},
    )

    effects = vendor_effects([cancel], live, FACTS)

    stripe_refund = next(m for m in effects if m.system == "stripe")
    assert "cancelled" not in stripe_refund.payload["expect"]
