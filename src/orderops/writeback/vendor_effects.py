"""Turning an approved action's effects into the vendor operations the worker delivers.

The catalogue speaks of systems by role (``payments``, ``oms``); the registry speaks of
vendors (``stripe.refund``). The decision knows which vendor holds the order's money and
what else the order looks like, so the outbox rows are written in the vendor's terms at
approval time, together with the facts the decision relied on (``expect``), which each
precheck compares with the vendor just before writing.

One role effect may take several vendor writes (cancelling an order in Shopify also
lets the warehouse go of its stock and returns money held in Stripe); each becomes its
own outbox row. Rows of one action may be delivered in any order, so none depends on
another having landed, except a replacement's label, whose precheck waits for its stock.

An effect with no vendor mapping, money held by a provider no connector serves, or an
order lacking a fact the vendor needs (no customer email, no address, no warehouse)
refuses the approval (``UnmappableEffect``, 422): a role name never waits in the outbox
for a connector that will never come.

Vendors: money by the payment's provider (Stripe, or Shopify for Shopify-held money);
the order, its lines and its fulfillment in Shopify; stock in the WMS; labels and address
checks in EasyPost; store credit in the CRM; customer contact and handoffs in Zendesk.
An override has no effect of its own beyond its record: its one write is a note on the
Shopify order saying what was decided and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderops.domain.actions import ActionContext, Effect, PaymentInfo, System
from orderops.writeback.vendor_terms import (
    CLOSED_TICKET,
    PARCEL_OUNCES_PER_UNIT,
    RELEASE_REASON,
    SHOPIFY_FINANCIAL_STATUSES,
    SHOPIFY_HOLD_REASONS,
    STRIPE_REFUND_REASON,
    Mapper,
    UnmappableEffect,
    VendorEffect,
    VendorFacts,
    customer_email,
    decimal_amount,
    easypost_address,
    shopify_order_id,
)

__all__ = [
    "CLOSED_TICKET",
    "STRIPE_REFUND_REASON",
    "UnmappableEffect",
    "VendorEffect",
    "VendorFacts",
    "decimal_amount",
    "vendor_effects",
]


def vendor_effects(
    effects: Sequence[Effect], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    """Every outbox row the effects need, in order; raises UnmappableEffect for any gap."""
    return [mapped for effect in effects for mapped in vendor_effect(effect, context, facts)]


def vendor_effect(effect: Effect, context: ActionContext, facts: VendorFacts) -> list[VendorEffect]:
    mapper = MAPPERS.get((effect.system, effect.operation))
    if mapper is None:
        raise UnmappableEffect(
            f"no vendor performs {effect.system}.{effect.operation}; the action cannot be executed"
        )
    return mapper(dict(effect.payload), context, facts)


# -- money --------------------------------------------------------------------------------


def _payment(payload: dict[str, Any], context: ActionContext) -> PaymentInfo:
    payment_ref = payload.get("payment_ref")
    payment = next((p for p in context.payments if p.payment_ref == payment_ref), None)
    if payment is None:
        raise UnmappableEffect(f"order {context.order_ref} has no payment {payment_ref}")
    return payment


def _refund(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    payment = _payment(payload, context)
    return [
        _refund_of(
            payment,
            int(payload["amount_minor"]),
            str(payload.get("reason")),
            context,
            cancelling=False,
        )
    ]


def _refund_of(
    payment: PaymentInfo, amount_minor: int, note: str, context: ActionContext, *, cancelling: bool
) -> VendorEffect:
    base = {"order_ref": context.order_ref, "currency": context.currency}
    if payment.provider == "stripe":
        expect: dict[str, Any] = {"status": "succeeded", "refunded_minor": payment.refunded_minor}
        confirm = _cancellation_to_confirm(context, cancelling=cancelling)
        return VendorEffect(
            system="stripe",
            operation="refund",
            payload={
                **base,
                "payment_ref": payment.payment_ref,
                "amount_minor": amount_minor,
                "payment_intent": payment.payment_ref,
                "reason": STRIPE_REFUND_REASON,
                "metadata": {"order_ref": context.order_ref, "note": note},
                **({"order_id": shopify_order_id(context)} if confirm else {}),
                "expect": expect | ({"cancelled": True} if confirm else {}),
            },
        )
    if payment.provider == "shopify":
        return VendorEffect(
            system="shopify",
            operation="refund",
            payload={
                **base,
                "order_id": shopify_order_id(context),
                "amount": decimal_amount(amount_minor, context.currency),
                "note": note,
                "expect": {
                    "cancelled": None if cancelling else context.cancelled,
                    "refunded": decimal_amount(payment.refunded_minor, context.currency),
                },
            },
        )
    raise UnmappableEffect(f"no connector refunds payments held by {payment.provider}")


def _cancellation_to_confirm(context: ActionContext, *, cancelling: bool) -> bool:
    """Whether a refund rests on a cancellation Shopify must confirm before money moves.

    A cancellation reaches the projection from a webhook, and Shopify signs a webhook's
    body but not its topic (issue #18): the refund of a cancelled order therefore expects
    the order cancelled at Shopify, and the precheck reads it back before refunding. Our
    own cancel-and-refund is not one: its cancellation is the write beside it. An order
    with no Shopify id did not come from Shopify, so there is nothing there to ask.
    """
    return context.cancelled and not cancelling and isinstance(shopify_order_id(context), int)


def _stripe_hold(payload: dict[str, Any], context: ActionContext) -> PaymentInfo:
    payment = _payment(payload, context)
    if payment.provider != "stripe":
        raise UnmappableEffect(f"no connector handles payment holds at {payment.provider}")
    return payment


def _capture(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    payment = _stripe_hold(payload, context)
    return [
        VendorEffect(
            system="stripe",
            operation="capture",
            payload={
                **payload,
                "payment_intent": payment.payment_ref,
                "expect": {
                    "status": "requires_capture",
                    "amount_capturable_minor": payment.amount_minor,
                },
            },
        )
    ]


def _cancel_hold(reason: str) -> Mapper:
    def mapper(
        payload: dict[str, Any], context: ActionContext, facts: VendorFacts
    ) -> list[VendorEffect]:
        payment = _stripe_hold(payload, context)
        return [_cancel_intent(payment, reason if reason else str(payload["reason"]), payload)]

    return mapper


def _cancel_intent(payment: PaymentInfo, reason: str, payload: dict[str, Any]) -> VendorEffect:
    return VendorEffect(
        system="stripe",
        operation="cancel_intent",
        payload={
            **payload,
            "payment_intent": payment.payment_ref,
            "cancellation_reason": reason,
            "expect": {"status": "requires_capture"},
        },
    )


def _store_credit(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    email = customer_email(context, facts)
    credit = {k: v for k, v in payload.items() if k != "customer_id"}
    return [
        VendorEffect(
            system="crm",
            operation="store_credit",
            payload={**credit, "customer_email": email, "expect": {"customer_email": email}},
        )
    ]


# -- the order in Shopify -----------------------------------------------------------------


def _note(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    return [
        VendorEffect(
            system="shopify",
            operation="add_note",
            payload={
                **payload,
                "order_id": shopify_order_id(context),
                "expect": {"cancelled": False},
            },
        )
    ]


def _hold(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    reason = str(payload["reason"])
    return [
        VendorEffect(
            system="shopify",
            operation="hold_fulfillment",
            payload={
                **payload,
                "order_id": shopify_order_id(context),
                "reason": SHOPIFY_HOLD_REASONS[reason],
                "notes": str(payload.get("note") or reason),
                "expect": {"cancelled": False},
            },
        )
    ]


def _release(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    return [
        VendorEffect(
            system="shopify",
            operation="release_hold",
            payload={**payload, "order_id": shopify_order_id(context)},
        )
    ]


def _cancel_line(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    sku = str(payload["sku"])
    refund_minor = int(payload.get("refund_minor") or 0)
    paid = [p for p in context.payments if p.refundable_minor > 0]
    shopify_paid = bool(paid) and paid[0].provider == "shopify"
    line = {
        **payload,
        "order_id": shopify_order_id(context),
        "note": str(payload.get("reason") or ""),
        "expect": {"cancelled": False, "quantity": context.line(sku).quantity},
    }
    if refund_minor and shopify_paid:
        line["amount"] = decimal_amount(refund_minor, context.currency)
    effects = [VendorEffect(system="shopify", operation="cancel_line", payload=line)]
    if refund_minor and paid and not shopify_paid:
        amount = min(refund_minor, paid[0].refundable_minor)
        effects.append(_refund_of(paid[0], amount, line["note"], context, cancelling=False))
    if payload.get("restock"):
        effects.append(_release_stock(context, [sku]))
    return effects


def _cancel_order(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    """The cancellation first (its key is the action's first), then money and stock."""
    note = str(payload.get("note") or payload["reason"])
    expect = (
        {"financial_status": facts.financial_status}
        if facts.financial_status in SHOPIFY_FINANCIAL_STATUSES
        else {}
    )
    effects = [
        VendorEffect(
            system="shopify",
            operation="cancel_order",
            payload={**payload, "order_id": shopify_order_id(context), "expect": expect},
        )
    ]
    if payload.get("refund"):
        effects += [
            _refund_of(p, p.refundable_minor, note, context, cancelling=True)
            for p in context.payments
            if p.refundable_minor > 0
        ]
        reason = "fraudulent" if payload["reason"] == "fraud" else RELEASE_REASON
        effects += [
            _cancel_intent(
                p, reason, {"order_ref": context.order_ref, "payment_ref": p.payment_ref}
            )
            for p in context.payments
            if p.on_hold and p.provider == "stripe"
        ]
    if payload.get("restock") and context.lines:
        effects.append(_release_stock(context, [line.sku for line in context.lines]))
    return effects


# -- stock and parcels --------------------------------------------------------------------


def _release_stock(context: ActionContext, skus: list[str]) -> VendorEffect:
    return VendorEffect(
        system="wms",
        operation="release_lines",
        payload={"order_ref": context.order_ref, "order_id": context.order_ref, "skus": skus},
    )


def _reserve(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    return [
        VendorEffect(
            system="wms",
            operation="reserve_lines",
            payload={**payload, "order_id": context.order_ref},
        )
    ]


def _substitute(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    return [
        VendorEffect(
            system="wms", operation="substitute", payload={**payload, "order_id": context.order_ref}
        )
    ]


def _ship(service_field: str, *, reserved: bool) -> Mapper:
    def mapper(
        payload: dict[str, Any], context: ActionContext, facts: VendorFacts
    ) -> list[VendorEffect]:
        if facts.ship_to is None:
            raise UnmappableEffect(f"order {context.order_ref} has no address to ship to")
        if facts.origin is None:
            raise UnmappableEffect(f"order {context.order_ref} has no warehouse to ship from")
        lines = payload.get("lines") or [
            {"sku": line.sku, "quantity": line.quantity} for line in context.lines
        ]
        units = sum(int(line["quantity"]) for line in lines) or 1
        shipment = {
            **payload,
            "to_address": easypost_address(facts.ship_to),
            "origin": facts.origin,
            "parcel": {"weight": PARCEL_OUNCES_PER_UNIT * units},
            "service": payload.get(service_field),
        }
        if reserved:
            shipment["reserved"] = {"order_id": context.order_ref, "lines": lines}
        return [VendorEffect(system="easypost", operation="ship", payload=shipment)]

    return mapper


# -- the customer in Zendesk --------------------------------------------------------------


def _contact(
    subject: str, body: str, payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> VendorEffect:
    if facts.open_tickets:
        return VendorEffect(
            system="zendesk",
            operation="add_comment",
            payload={
                **payload,
                "ticket_id": int(facts.open_tickets[0]),
                "comment": f"{subject}\n\n{body}",
                "public": True,
                "expect": {"open": True},
            },
        )
    return VendorEffect(
        system="zendesk",
        operation="create_ticket",
        payload={
            **payload,
            "subject": subject,
            "body": body,
            "requester_email": customer_email(context, facts),
            "tags": ["orderops", f"order-{context.order_ref}"],
            "public": True,
        },
    )


def _send_message(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    return [_contact(str(payload["subject"]), str(payload["body"]), payload, context, facts)]


def _address_correction(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    effects = []
    suggested = payload.get("suggested_address")
    address = (
        easypost_address(suggested)
        if suggested
        else (easypost_address(facts.ship_to) if facts.ship_to else None)
    )
    if address is not None:
        effects.append(
            VendorEffect(
                system="easypost",
                operation="verify_address",
                payload={"order_ref": context.order_ref, "address": address},
            )
        )
    body = f"We could not deliver order {context.order_ref} as addressed: {payload['problem']}"
    if suggested:
        body += "\nDid you mean: " + ", ".join(str(v) for v in suggested.values() if v)
    body += "\nPlease reply with the correct delivery address."
    subject = f"Please check the delivery address of order {context.order_ref}"
    effects.append(_contact(subject, body, payload, context, facts))
    return effects


def _handoff(
    payload: dict[str, Any], context: ActionContext, facts: VendorFacts
) -> list[VendorEffect]:
    team, priority = str(payload["team"]), str(payload["priority"])
    return [
        VendorEffect(
            system="zendesk",
            operation="create_ticket",
            payload={
                **payload,
                "subject": f"[{team}] order {context.order_ref} needs attention",
                "body": str(payload["summary"]),
                "requester_email": customer_email(context, facts),
                "tags": ["orderops", f"team-{team}", f"priority-{priority}"],
                "public": False,
            },
        )
    ]


MAPPERS: dict[tuple[System, str], Mapper] = {
    (System.PAYMENTS, "refund"): _refund,
    (System.PAYMENTS, "capture"): _capture,
    (System.PAYMENTS, "release_hold"): _cancel_hold(RELEASE_REASON),
    (System.PAYMENTS, "void"): _cancel_hold(""),
    (System.CRM, "issue_store_credit"): _store_credit,
    (System.WMS, "reserve"): _reserve,
    (System.WMS, "substitute"): _substitute,
    (System.SHIPPING, "create_shipment"): _ship("service_level", reserved=True),
    (System.SHIPPING, "upgrade_service"): _ship("to_service", reserved=False),
    (System.OMS, "add_note"): _note,
    (System.OMS, "cancel_line"): _cancel_line,
    (System.OMS, "cancel_order"): _cancel_order,
    (System.OMS, "hold_fulfillment"): _hold,
    (System.OMS, "release_fulfillment_hold"): _release,
    (System.SUPPORT, "request_address_correction"): _address_correction,
    (System.SUPPORT, "send_message"): _send_message,
    (System.SUPPORT, "create_ticket"): _handoff,
}
"""Every role effect the catalogue declares, and the vendor writes that perform it."""
