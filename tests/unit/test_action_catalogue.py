"""The action catalogue: each kind validates against the order and declares its effects."""

from __future__ import annotations

from typing import Any

import pytest

from orderops.domain.actions import (
    ActionContext,
    ActionKind,
    InvalidAction,
    LineInfo,
    PaymentInfo,
    catalogue,
    plan,
)

ORDER = ActionContext(
    order_ref="o-1",
    currency="EUR",
    order_total_minor=10_000,
    lines=(
        LineInfo(sku="MUG", quantity=2, unit_price_minor=2000),
        LineInfo(sku="TEE", quantity=1, unit_price_minor=6000),
    ),
    payments=(
        PaymentInfo(
            payment_ref="pi_paid",
            provider="stripe",
            status="partially_refunded",
            amount_minor=10_000,
            refunded_minor=1000,
        ),
    ),
    tracking_numbers=("1Z999",),
    customer_id="cust-1",
)
ON_HOLD = ActionContext(
    order_ref="o-2",
    currency="EUR",
    order_total_minor=4000,
    payments=(
        PaymentInfo(
            payment_ref="pi_hold", provider="stripe", status="authorized", amount_minor=4000
        ),
    ),
)


@pytest.mark.parametrize(
    ("kind", "params", "context", "exposure", "effects"),
    [
        ("refund", {"reason": "lost"}, ORDER, 9000, [("payments", "refund")]),
        ("refund", {"amount_minor": 500, "reason": "late"}, ORDER, 500, [("payments", "refund")]),
        (
            "store_credit",
            {"amount_minor": 700, "reason": "sorry"},
            ORDER,
            700,
            [("crm", "issue_store_credit")],
        ),
        (
            "reship",
            {"lines": [{"sku": "MUG", "quantity": 2}], "reason": "damaged"},
            ORDER,
            4000,
            [("wms", "reserve"), ("shipping", "create_shipment")],
        ),
        (
            "substitute",
            {"from_sku": "TEE", "to_sku": "TEE-XL", "quantity": 1, "price_difference_minor": -300},
            ORDER,
            300,
            [("wms", "substitute"), ("oms", "add_note"), ("payments", "refund")],
        ),
        (
            "substitute",
            {"from_sku": "TEE", "to_sku": "TEE-XL", "quantity": 1, "price_difference_minor": 300},
            ORDER,
            300,  # the retailer absorbs a dearer substitute: no money moves to the customer
            [("wms", "substitute"), ("oms", "add_note")],
        ),
        (
            "shipping_upgrade",
            {"to_service": "express", "tracking_number": "1Z999", "cost_minor": 900},
            ORDER,
            900,
            [("shipping", "upgrade_service")],
        ),
        (
            "cancel_line",
            {"sku": "MUG", "quantity": 1, "reason": "out of stock"},
            ORDER,
            2000,
            [("oms", "cancel_line")],
        ),
        # the money it moves: what is still refundable (10_000 captured, 1000 refunded)
        ("cancel_order", {"reason": "fraud"}, ORDER, 9000, [("oms", "cancel_order")]),
        ("cancel_order", {"reason": "fraud", "refund": False}, ORDER, 0, [("oms", "cancel_order")]),
        ("capture_payment", {}, ON_HOLD, 4000, [("payments", "capture")]),
        (
            "release_payment_hold",
            {"reason": "order cancelled"},
            ON_HOLD,
            4000,
            [("payments", "release_hold")],
        ),
        ("void_payment", {"reason": "fraudulent"}, ON_HOLD, 4000, [("payments", "void")]),
        ("hold_fulfillment", {"reason": "fraud_review"}, ORDER, 0, [("oms", "hold_fulfillment")]),
        ("release_fulfillment", {}, ORDER, 0, [("oms", "release_fulfillment_hold")]),
        (
            "request_address_correction",
            {"problem": "no house number"},
            ORDER,
            0,
            [("support", "request_address_correction")],
        ),
        (
            "contact_customer",
            {"subject": "Your order", "body": "It is late"},
            ORDER,
            0,
            [("support", "send_message")],
        ),
        (
            "support_handoff",
            {"summary": "needs a call", "priority": "high"},
            ORDER,
            0,
            [("support", "create_ticket")],
        ),
        (
            "override",
            {
                "resolution": "refunded by phone",
                "justification": "customer called the store directly",
            },
            ORDER,
            0,
            [("oms", "add_note")],
        ),
        ("accept_delay", {"note": "The customer chose to wait"}, ORDER, 0, [("oms", "add_note")]),
    ],
)
def test_each_kind_plans_its_exposure_and_effects(
    kind: str,
    params: dict[str, Any],
    context: ActionContext,
    exposure: int,
    effects: list[tuple[str, str]],
) -> None:
    planned = plan(kind, params, context)

    assert planned.exposure_minor == exposure
    assert [(str(e.system), e.operation) for e in planned.effects] == effects
    assert all(e.payload["order_ref"] == context.order_ref for e in planned.effects)


def test_every_kind_has_a_row_in_the_table_above() -> None:
    assert set(catalogue()) == set(ActionKind)


def test_a_full_refund_is_resolved_to_the_exact_amount_and_payment() -> None:
    planned = plan("refund", {"reason": "lost"}, ORDER)

    assert planned.params_json["amount_minor"] == 9000
    assert planned.params_json["payment_ref"] == "pi_paid"
    assert planned.effects[0].payload["currency"] == "EUR"
    # planning the resolved parameters again changes nothing (approval re-plans them)
    assert plan("refund", planned.params_json, ORDER).params_json == planned.params_json


@pytest.mark.parametrize(
    ("kind", "params", "context", "fragment"),
    [
        ("teleport", {}, ORDER, "unknown action kind"),
        ("refund", {"reason": "x" * 3, "amount_minor": 9001}, ORDER, "exceeds the 9000"),
        ("refund", {"reason": "lost", "surprise": 1}, ORDER, "surprise"),
        ("refund", {"amount_minor": 100}, ORDER, "reason"),
        ("refund", {"reason": "lost"}, ON_HOLD, "has no payment with money to refund"),
        ("capture_payment", {}, ORDER, "on hold"),
        ("capture_payment", {"amount_minor": 4001}, ON_HOLD, "exceeds the 4000"),
        (
            "reship",
            {"lines": [{"sku": "MUG", "quantity": 3}], "reason": "lost"},
            ORDER,
            "the order has 2",
        ),
        (
            "cancel_line",
            {"sku": "HAT", "quantity": 1, "reason": "oos"},
            ORDER,
            "no line with SKU HAT",
        ),
        ("substitute", {"from_sku": "TEE", "to_sku": "TEE", "quantity": 1}, ORDER, "must differ"),
        (
            "substitute",
            {
                "from_sku": "TEE",
                "to_sku": "TEE-XL",
                "quantity": 1,
                "price_difference_minor": -20_000,
            },
            ORDER,
            "refund of 20000 exceeds",
        ),
        (
            "shipping_upgrade",
            {"to_service": "x", "tracking_number": "nope"},
            ORDER,
            "no shipment nope",
        ),
        ("store_credit", {"amount_minor": 100, "reason": "sorry"}, ON_HOLD, "no known customer"),
        ("override", {"resolution": "done", "justification": "short"}, ORDER, "justification"),
        ("cancel_order", {"reason": "boredom"}, ORDER, "reason"),
    ],
)
def test_invalid_requests_are_refused_with_the_field_named(
    kind: str, params: dict[str, Any], context: ActionContext, fragment: str
) -> None:
    with pytest.raises(InvalidAction) as error:
        plan(kind, params, context)

    assert fragment in error.value.message


def test_a_cancelled_order_takes_no_actions() -> None:
    cancelled = ActionContext(order_ref="o-9", currency="EUR", order_total_minor=1, cancelled=True)

    with pytest.raises(InvalidAction, match="cancelled"):
        plan("hold_fulfillment", {"reason": "other"}, cancelled)
