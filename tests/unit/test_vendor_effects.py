"""Approved effects in vendor terms: every role effect of the catalogue names a registered
vendor operation, chosen by the order's facts, carrying what the decision relied on."""

from __future__ import annotations

from typing import Any

import pytest

from orderops.domain.actions import (
    ActionContext,
    ActionKind,
    Effect,
    LineInfo,
    PaymentInfo,
    System,
    plan,
)
from orderops.writeback.registry import default_registry
from orderops.writeback.vendor_effects import (
    STRIPE_REFUND_REASON,
    UnmappableEffect,
    VendorFacts,
    decimal_amount,
    vendor_effects,
)

FACTS = VendorFacts(
    ship_to={"line1": "12 Main St", "city": "Springfield", "postal_code": "62701", "country": "US"},
    origin="WH-EAST",
    customer_email="ada@example.com",
    financial_status="paid",
)


def context(
    provider: str = "stripe", *, status: str = "captured", refunded_minor: int = 0
) -> ActionContext:
    return ActionContext(
        order_ref="1001",
        currency="USD",
        order_total_minor=5000,
        lines=(LineInfo(sku="SKU-1", quantity=2, unit_price_minor=2500),),
        payments=(
            PaymentInfo(
                payment_ref="pi_1",
                provider=provider,
                status=status,
                amount_minor=5000,
                refunded_minor=refunded_minor,
            ),
        ),
        customer_id="c-1",
    )


REFUND = Effect(
    System.PAYMENTS,
    "refund",
    {
        "order_ref": "1001",
        "currency": "USD",
        "payment_ref": "pi_1",
        "reason": "late",
        "amount_minor": 1000,
    },
)

KINDS: list[tuple[ActionKind, dict[str, Any], str, list[tuple[str, str]]]] = [
    (ActionKind.REFUND, {"reason": "lost"}, "captured", [("stripe", "refund")]),
    (
        ActionKind.STORE_CREDIT,
        {"amount_minor": 500, "reason": "sorry"},
        "captured",
        [("crm", "store_credit")],
    ),
    (
        ActionKind.RESHIP,
        {"lines": [{"sku": "SKU-1", "quantity": 1}], "reason": "broken"},
        "captured",
        [("wms", "reserve_lines"), ("easypost", "ship")],
    ),
    (
        ActionKind.SUBSTITUTE,
        {"from_sku": "SKU-1", "to_sku": "SKU-2", "quantity": 1},
        "captured",
        [("wms", "substitute"), ("shopify", "add_note")],
    ),
    (ActionKind.SHIPPING_UPGRADE, {"to_service": "Priority"}, "captured", [("easypost", "ship")]),
    (
        ActionKind.CANCEL_LINE,
        {"sku": "SKU-1", "quantity": 1, "reason": "changed mind"},
        "captured",
        [("shopify", "cancel_line"), ("stripe", "refund"), ("wms", "release_lines")],
    ),
    (
        ActionKind.CANCEL_ORDER,
        {"reason": "customer"},
        "captured",
        [("shopify", "cancel_order"), ("stripe", "refund"), ("wms", "release_lines")],
    ),
    (ActionKind.CAPTURE_PAYMENT, {}, "authorized", [("stripe", "capture")]),
    (
        ActionKind.RELEASE_PAYMENT_HOLD,
        {"reason": "no ship"},
        "authorized",
        [("stripe", "cancel_intent")],
    ),
    (
        ActionKind.VOID_PAYMENT,
        {"reason": "fraudulent"},
        "authorized",
        [("stripe", "cancel_intent")],
    ),
    (
        ActionKind.HOLD_FULFILLMENT,
        {"reason": "fraud_review"},
        "captured",
        [("shopify", "hold_fulfillment")],
    ),
    (ActionKind.RELEASE_FULFILLMENT, {}, "captured", [("shopify", "release_hold")]),
    (
        ActionKind.REQUEST_ADDRESS_CORRECTION,
        {"problem": "no street number"},
        "captured",
        [("easypost", "verify_address"), ("zendesk", "create_ticket")],
    ),
    (
        ActionKind.CONTACT_CUSTOMER,
        {"subject": "Hi", "body": "News"},
        "captured",
        [("zendesk", "create_ticket")],
    ),
    (
        ActionKind.SUPPORT_HANDOFF,
        {"summary": "please look"},
        "captured",
        [("zendesk", "create_ticket")],
    ),
    (
        ActionKind.OVERRIDE,
        {"resolution": "goodwill", "justification": "agreed with the store manager today"},
        "captured",
        [("shopify", "add_note")],
    ),
    (
        ActionKind.ACCEPT_DELAY,
        {"note": "The customer chose to wait"},
        "captured",
        [("shopify", "add_note")],
    ),
]


@pytest.mark.parametrize(("kind", "params", "status", "expected"), KINDS, ids=[k[0] for k in KINDS])
def test_every_kind_maps_to_registered_vendor_operations(
    kind: ActionKind, params: dict[str, Any], status: str, expected: list[tuple[str, str]]
) -> None:
    order = context(status=status)
    planned = plan(kind, params, order)

    mapped = vendor_effects(planned.effects, order, FACTS)

    assert [(m.system, m.operation) for m in mapped] == expected
    registered = set(default_registry().names())
    assert {(m.system, m.operation) for m in mapped} <= registered


def test_every_kind_of_the_catalogue_is_in_the_table() -> None:
    assert {k[0] for k in KINDS} == set(ActionKind)


@pytest.mark.parametrize("refunded_minor", [0, 700])
def test_a_stripe_refund_names_the_intent_and_the_refunds_the_decision_saw(
    refunded_minor: int,
) -> None:
    (mapped,) = vendor_effects([REFUND], context(refunded_minor=refunded_minor), FACTS)

    assert (mapped.system, mapped.operation) == ("stripe", "refund")
    assert mapped.payload["payment_intent"] == "pi_1"
    assert mapped.payload["amount_minor"] == 1000
    assert mapped.payload["reason"] == STRIPE_REFUND_REASON
    assert mapped.payload["metadata"] == {"order_ref": "1001", "note": "late"}
    assert mapped.payload["expect"] == {"status": "succeeded", "refunded_minor": refunded_minor}


def test_shopify_held_money_is_refunded_in_shopify_in_decimal_amounts() -> None:
    (mapped,) = vendor_effects([REFUND], context("shopify", refunded_minor=250), FACTS)

    assert (mapped.system, mapped.operation) == ("shopify", "refund")
    assert (mapped.payload["order_id"], mapped.payload["amount"]) == (1001, "10.00")
    assert mapped.payload["expect"] == {"cancelled": False, "refunded": "2.50"}


def test_a_contact_goes_to_the_open_ticket_when_there_is_one() -> None:
    effect = Effect(
        System.SUPPORT, "send_message", {"order_ref": "1001", "subject": "S", "body": "B"}
    )
    facts = VendorFacts(customer_email="ada@example.com", open_tickets=("77", "12"))

    (mapped,) = vendor_effects([effect], context(), facts)

    assert (mapped.system, mapped.operation) == ("zendesk", "add_comment")
    assert (mapped.payload["ticket_id"], mapped.payload["public"]) == (77, True)
    assert mapped.payload["expect"] == {"open": True}


@pytest.mark.parametrize(
    ("effect", "order", "facts", "named"),
    [
        (REFUND, context("adyen"), FACTS, "adyen"),
        (Effect(System.OMS, "reprice", {}), context(), FACTS, "oms.reprice"),
        (
            Effect(System.CRM, "issue_store_credit", {"amount_minor": 1}),
            context(),
            VendorFacts(),
            "no customer email",
        ),
        (
            Effect(System.SHIPPING, "upgrade_service", {"to_service": "Priority"}),
            context(),
            VendorFacts(origin="WH-EAST"),
            "no address",
        ),
    ],
    ids=["provider", "role-operation", "email", "address"],
)
def test_an_effect_no_vendor_can_perform_is_refused_by_name(
    effect: Effect, order: ActionContext, facts: VendorFacts, named: str
) -> None:
    with pytest.raises(UnmappableEffect, match=named):
        vendor_effects([effect], order, facts)


@pytest.mark.parametrize(
    ("minor", "currency", "decimal"),
    [(1050, "USD", "10.50"), (5, "EUR", "0.05"), (1050, "JPY", "1050"), (1050, "KWD", "1.050")],
)
def test_minor_units_become_the_currency_s_decimal_amount(
    minor: int, currency: str, decimal: str
) -> None:
    assert decimal_amount(minor, currency) == decimal
