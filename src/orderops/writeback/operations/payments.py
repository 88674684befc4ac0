"""Money: refunds in Stripe and Shopify, and cancelling a Shopify order.

A refund is decided on facts (the order is not cancelled, nothing was refunded since,
enough is left to refund); the precheck re-reads them from the vendor just before the
write, and finds a refund of our own (Stripe metadata, Shopify note marker) left by a
worker that crashed after writing.

The refund of an order the projection shows cancelled rests on that cancellation, which
arrived by webhook and is only as good as the webhook (Shopify signs the body, not the
topic). Its payload expects ``cancelled: True``, and the precheck reads the order back
from Shopify, for money held at Stripe too: a cancellation Shopify does not show stops
the refund as a conflict, and the case goes back to a person.

The facts are read on every attempt, the first included: they guard against the world
changing after the decision (a refund made by hand in the dashboard), which no
idempotency key can. The look for a refund of our own is made only when an earlier
attempt may have reached the vendor. Stripe answers a refund with the refund object and
its status, so a ``succeeded`` answer needs no read-back.
"""

from __future__ import annotations

from decimal import Decimal

from orderops.writeback.connectors.markers import has_text_marker
from orderops.writeback.registry import (
    Call,
    Connectors,
    Difference,
    Operation,
    Precheck,
    Result,
    fresh_answer,
)

KEY_METADATA = "orderops_key"
"""Stripe refund metadata naming the idempotency key, so a read-back can tell ours apart."""
SUCCEEDED = "succeeded"


# -- Stripe refund ------------------------------------------------------------------------
# payload: payment_intent, amount_minor, reason?, metadata?, order_id? (Shopify),
#          expect: {status: "succeeded", refunded_minor: 0, cancelled?: true}


def stripe_refund_precheck(connectors: Connectors, call: Call) -> Precheck:
    """The decision's facts from one read of the intent with its charge expanded; first,
    when an earlier attempt may have reached Stripe, a look through the intent's refunds
    for ours (by metadata, which outlives Stripe's 24 h idempotency-key window)."""
    stripe = connectors.stripe()
    intent_id = str(call.payload["payment_intent"])
    if call.sent_before:
        for refund in stripe.list_refunds(intent_id):
            if refund.metadata.get(KEY_METADATA) == call.idempotency_key:
                return Precheck(
                    earlier_result=_stripe_result(refund.refund_id, refund.amount_minor)
                )
    intent = stripe.get_payment_intent(intent_id, with_charge=True)
    # None of the refunds is ours (we looked, or nothing was ever sent), so every refunded
    # amount on the charge was made by someone else.
    refunded_by_others = intent.amount_refunded_minor or 0
    amount = int(call.payload["amount_minor"])
    differences = []
    expected_status = call.expect("status", "succeeded")
    if intent.status != expected_status:
        differences.append(Difference("payment_status", expected_status, intent.status))
    expected_refunded = int(call.expect("refunded_minor", 0))
    if refunded_by_others != expected_refunded:
        differences.append(Difference("refunded_minor", expected_refunded, refunded_by_others))
    refundable = intent.amount_received_minor - refunded_by_others
    if refundable < amount:
        differences.append(Difference("refundable_minor", f">= {amount}", refundable))
    unconfirmed = unconfirmed_cancellation(connectors, call)
    if unconfirmed is not None:
        differences.append(unconfirmed)
    return Precheck(differences=tuple(differences))


def unconfirmed_cancellation(connectors: Connectors, call: Call) -> Difference | None:
    """The cancellation a refund relied on, read back from Shopify: a difference when
    Shopify does not show the order cancelled, None when it does or none was relied on."""
    if call.expect("cancelled", None) is not True:
        return None
    order = connectors.shopify().get_order(int(call.payload["order_id"]))
    if order.cancelled_at is None:
        return Difference("cancelled", True, False)
    return None


def stripe_refund(connectors: Connectors, call: Call) -> Result:
    metadata = {str(k): str(v) for k, v in (call.payload.get("metadata") or {}).items()}
    metadata[KEY_METADATA] = call.idempotency_key
    refund = connectors.stripe().refund(
        payment_intent=str(call.payload["payment_intent"]),
        amount_minor=int(call.payload["amount_minor"]),
        idempotency_key=call.idempotency_key,
        metadata=metadata,
        reason=call.payload.get("reason"),
    )
    return _stripe_result(refund.refund_id, refund.amount_minor) | {
        "status": refund.status,
        "replayed": refund.replayed,
    }


def stripe_refund_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    refunds = connectors.stripe().list_refunds(str(call.payload["payment_intent"]))
    return any(r.refund_id == result["refund_id"] and r.status == SUCCEEDED for r in refunds)


def stripe_refund_answered(result: Result) -> bool:
    """Stripe answers a refund with the refund object: ``succeeded`` is the read-back's
    answer already; ``pending`` (some payment methods) and replays are read back."""
    return fresh_answer(result) and result.get("status") == SUCCEEDED


def _stripe_result(refund_id: str, amount_minor: int) -> Result:
    return {"refund_id": refund_id, "amount_minor": amount_minor}


# -- Shopify refund -----------------------------------------------------------------------
# payload: order_id, amount ("12.50"), note?, expect: {cancelled: false, refunded: "0"}
# (expect cancelled None: the refund of our own cancellation, whichever lands first;
#  expect cancelled True: the refund of an order cancelled before the decision, which
#  Shopify must still show cancelled)


def shopify_refund_precheck(connectors: Connectors, call: Call) -> Precheck:
    shopify = connectors.shopify()
    order_id = int(call.payload["order_id"])
    refunds = shopify.list_refunds(order_id)
    for refund in refunds:
        if has_text_marker(refund.note, call.idempotency_key):
            return Precheck(earlier_result=_shopify_refund_result(refund.id, refund.amount))
    order = shopify.get_order(order_id)
    refunded = sum((r.amount for r in refunds), Decimal("0"))
    amount = Decimal(str(call.payload["amount"]))
    differences = []
    cancelled = order.cancelled_at is not None
    expected_cancelled = call.expect("cancelled", False)
    if expected_cancelled is not None and cancelled != bool(expected_cancelled):
        differences.append(Difference("cancelled", expected_cancelled, cancelled))
    expected_refunded = Decimal(str(call.expect("refunded", "0")))
    if refunded != expected_refunded:
        differences.append(Difference("refunded", str(expected_refunded), str(refunded)))
    if order.total_price - refunded < amount:
        differences.append(
            Difference("refundable", f">= {amount}", str(order.total_price - refunded))
        )
    return Precheck(differences=tuple(differences))


def shopify_refund(connectors: Connectors, call: Call) -> Result:
    refund = connectors.shopify().refund(
        order_id=int(call.payload["order_id"]),
        amount=Decimal(str(call.payload["amount"])),
        idempotency_key=call.idempotency_key,
        note=str(call.payload.get("note") or ""),
    )
    return _shopify_refund_result(refund.id, refund.amount) | {"replayed": refund.replayed}


def shopify_refund_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    refunds = connectors.shopify().list_refunds(int(call.payload["order_id"]))
    return any(r.id == result["refund_id"] for r in refunds)


def shopify_refund_answered(result: Result) -> bool:
    """The connector answers with the refund Shopify created, or with ours found by its
    marker in a fresh read of the order's refunds: either way it is there."""
    return result.get("refund_id") is not None


def _shopify_refund_result(refund_id: int, amount: Decimal) -> Result:
    return {"refund_id": refund_id, "amount": str(amount)}


# -- Shopify cancel -----------------------------------------------------------------------
# payload: order_id, reason?, expect: {financial_status?}


def shopify_cancel_precheck(connectors: Connectors, call: Call) -> Precheck:
    order = connectors.shopify().get_order(int(call.payload["order_id"]))
    expected = call.expect("financial_status", None)
    if expected is not None and order.cancelled_at is None and order.financial_status != expected:
        return Precheck(
            differences=(Difference("financial_status", expected, order.financial_status),)
        )
    return Precheck()


def shopify_cancel(connectors: Connectors, call: Call) -> Result:
    order = connectors.shopify().cancel_order(
        order_id=int(call.payload["order_id"]),
        idempotency_key=call.idempotency_key,
        reason=str(call.payload.get("reason") or "other"),
    )
    return {"order_id": order.id, "cancelled_at": order.cancelled_at, "replayed": order.replayed}


def shopify_cancel_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    return connectors.shopify().get_order(int(call.payload["order_id"])).cancelled_at is not None


def shopify_cancel_answered(result: Result) -> bool:
    """Shopify answers a cancel with the order, cancelled; the connector's look-first
    answers with the order as read: ``cancelled_at`` is what the read-back would check."""
    return result.get("cancelled_at") is not None


OPERATIONS = [
    Operation(
        system="stripe",
        name="refund",
        precheck=stripe_refund_precheck,
        execute=stripe_refund,
        confirm=stripe_refund_confirm,
        summary_fields=("payment_intent", "amount_minor", "reason"),
        answer_confirms=stripe_refund_answered,
    ),
    Operation(
        system="shopify",
        name="refund",
        precheck=shopify_refund_precheck,
        execute=shopify_refund,
        confirm=shopify_refund_confirm,
        summary_fields=("order_id", "amount"),
        answer_confirms=shopify_refund_answered,
    ),
    Operation(
        system="shopify",
        name="cancel_order",
        precheck=shopify_cancel_precheck,
        execute=shopify_cancel,
        confirm=shopify_cancel_confirm,
        summary_fields=("order_id", "reason"),
        answer_confirms=shopify_cancel_answered,
    ),
]
