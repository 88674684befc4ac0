"""The parameter model of each action kind, and the catalogue that names them.

Payloads carry the order reference and currency so a writeback worker needs nothing but
the outbox row; operation names are the connector's verbs for that system.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orderops.domain.actions import (
    ActionContext,
    ActionKind,
    ActionParams,
    ActionSpec,
    Effect,
    InvalidAction,
    MoneyFlow,
    PaymentInfo,
    System,
)

Reason = Annotated[str, Field(min_length=3, max_length=500)]
Sku = Annotated[str, Field(min_length=1, max_length=200)]
Quantity = Annotated[int, Field(gt=0, le=10_000)]
Minor = Annotated[int, Field(gt=0, le=100_000_000)]
PAYOUT = MoneyFlow.PAYOUT


def _base(context: ActionContext) -> dict[str, Any]:
    return {"order_ref": context.order_ref, "currency": context.currency}


class LineQuantity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sku: Sku
    quantity: Quantity


def _lines_value(context: ActionContext, lines: tuple[LineQuantity, ...]) -> int:
    total = 0
    for item in lines:
        line = context.line(item.sku)
        if item.quantity > line.quantity:
            raise InvalidAction(f"{item.sku}: {item.quantity} asked, the order has {line.quantity}")
        total += line.unit_price_minor * item.quantity
    return total


def _over_refund(amount: int, payment: PaymentInfo) -> InvalidAction:
    return InvalidAction(
        f"refund of {amount} exceeds the {payment.refundable_minor} still refundable on "
        f"{payment.payment_ref} ({payment.amount_minor} captured, {payment.refunded_minor} "
        f"refunded, {payment.committed_refund_minor} already committed to refunds awaiting "
        "approval, queued or not yet reported)"
    )


class RefundParams(ActionParams):
    """Full refund (amount omitted: everything still refundable) or partial.

    Still refundable means captured, less what the provider reports refunded, less every
    refund of ours on the payment not yet in that report (``PaymentInfo``), so refunds
    split into small pieces add up against the same ceiling.
    """

    payment_ref: str | None = None
    amount_minor: Minor | None = None
    reason: Reason

    def resolve(self, context: ActionContext) -> Self:
        payment = context.payment(self.payment_ref, wanted="refundable")
        amount = self.amount_minor or payment.refundable_minor
        if amount > payment.refundable_minor:
            raise _over_refund(amount, payment)
        return self.model_copy(update={"payment_ref": payment.payment_ref, "amount_minor": amount})

    def exposure_minor(self, context: ActionContext) -> int:
        return self.amount_minor or 0

    def effects(self, context: ActionContext) -> list[Effect]:
        payload = {**_base(context), "payment_ref": self.payment_ref, "reason": self.reason}
        return [Effect(System.PAYMENTS, "refund", {**payload, "amount_minor": self.amount_minor})]


class StoreCreditParams(ActionParams):
    amount_minor: Minor
    reason: Reason
    expires_in_days: Annotated[int, Field(gt=0, le=3650)] | None = None

    def resolve(self, context: ActionContext) -> Self:
        if context.customer_id is None:
            raise InvalidAction(f"order {context.order_ref} has no known customer to credit")
        return super().resolve(context)

    def exposure_minor(self, context: ActionContext) -> int:
        return self.amount_minor

    def effects(self, context: ActionContext) -> list[Effect]:
        payload = {
            **_base(context),
            "customer_id": context.customer_id,
            "amount_minor": self.amount_minor,
            "reason": self.reason,
            "expires_in_days": self.expires_in_days,
        }
        return [Effect(System.CRM, "issue_store_credit", payload)]


class ReshipParams(ActionParams):
    """Send the listed lines again (replacement), reserved first so stock is not oversold."""

    lines: Annotated[tuple[LineQuantity, ...], Field(min_length=1, max_length=100)]
    service_level: Annotated[str, Field(max_length=64)] | None = None
    reason: Reason

    def resolve(self, context: ActionContext) -> Self:
        _lines_value(context, self.lines)
        return super().resolve(context)

    def exposure_minor(self, context: ActionContext) -> int:
        return _lines_value(context, self.lines)

    def effects(self, context: ActionContext) -> list[Effect]:
        lines = [line.model_dump() for line in self.lines]
        return [
            Effect(System.WMS, "reserve", {**_base(context), "lines": lines}),
            Effect(
                System.SHIPPING,
                "create_shipment",
                {**_base(context), "lines": lines, "service_level": self.service_level},
            ),
        ]


class SubstituteParams(ActionParams):
    """Swap a line for another SKU. A cheaper substitute refunds the difference to the
    payment (named, or the only one with money to refund), checked against what is still
    refundable like any refund. When the order's money is only authorised (nothing
    captured to refund), it captures the hold less the difference instead: the customer
    pays the lower total and the provider releases the rest, so no later capture can take
    the old one. A dearer one is the retailer's to absorb: the customer is never charged
    more without being asked."""

    from_sku: Sku
    to_sku: Sku
    quantity: Quantity
    price_difference_minor: Annotated[int, Field(ge=-100_000_000, le=100_000_000)] = 0
    """For the whole line (all ``quantity`` units, not per unit): what the retailer absorbs
    (positive) or the customer is owed back (negative)."""
    payment_ref: str | None = None
    capture_minor: Minor | None = None
    """Set when resolved against an authorised payment: what the substitution captures."""

    @model_validator(mode="after")
    def _different(self) -> Self:
        if self.from_sku == self.to_sku:
            raise ValueError("to_sku must differ from from_sku")
        return self

    @property
    def refund_minor(self) -> int:
        """The customer's money back: the difference when the substitute is cheaper."""
        return max(0, -self.price_difference_minor)

    def resolve(self, context: ActionContext) -> Self:
        _lines_value(context, (LineQuantity(sku=self.from_sku, quantity=self.quantity),))
        resolved = super().resolve(context)
        if not self.refund_minor:
            return resolved.model_copy(update={"payment_ref": None, "capture_minor": None})
        if self._only_authorised(context):
            hold = context.payment(self.payment_ref, wanted="on_hold")
            if self.refund_minor >= hold.hold_available_minor:
                raise InvalidAction(
                    f"a difference of {self.refund_minor} leaves nothing to capture of the "
                    f"{hold.hold_available_minor} authorised on {hold.payment_ref}"
                )
            capture = hold.hold_available_minor - self.refund_minor
            return resolved.model_copy(
                update={"payment_ref": hold.payment_ref, "capture_minor": capture}
            )
        payment = context.payment(self.payment_ref, wanted="refundable")
        if self.refund_minor > payment.refundable_minor:
            raise _over_refund(self.refund_minor, payment)
        return resolved.model_copy(
            update={"payment_ref": payment.payment_ref, "capture_minor": None}
        )

    def _only_authorised(self, context: ActionContext) -> bool:
        """Nothing of the order's (or the named) payment is captured, and a hold is."""
        named = [
            p
            for p in context.payments
            if self.payment_ref is None or p.payment_ref == self.payment_ref
        ]
        return not any(p.captured for p in named) and any(p.hold_available_minor > 0 for p in named)

    def exposure_minor(self, context: ActionContext) -> int:
        return abs(self.price_difference_minor)

    def effects(self, context: ActionContext) -> list[Effect]:
        swap = {"from_sku": self.from_sku, "to_sku": self.to_sku, "quantity": self.quantity}
        note = f"Substituted {self.quantity} x {self.from_sku} with {self.to_sku}"
        effects = [
            Effect(System.WMS, "substitute", {**_base(context), **swap}),
            Effect(System.OMS, "add_note", {**_base(context), "text": note}),
        ]
        if self.capture_minor is not None:
            capture = {
                **_base(context),
                "payment_ref": self.payment_ref,
                "amount_minor": self.capture_minor,
            }
            effects.append(Effect(System.PAYMENTS, "capture", capture))
        elif self.refund_minor:
            refund = {
                **_base(context),
                "payment_ref": self.payment_ref,
                "amount_minor": self.refund_minor,
                "reason": f"price difference: {note}",
            }
            effects.append(Effect(System.PAYMENTS, "refund", refund))
        return effects


class ShippingUpgradeParams(ActionParams):
    to_service: Annotated[str, Field(min_length=1, max_length=64)]
    tracking_number: str | None = None
    cost_minor: Annotated[int, Field(ge=0, le=100_000_000)] = 0

    def resolve(self, context: ActionContext) -> Self:
        if self.tracking_number and self.tracking_number not in context.tracking_numbers:
            raise InvalidAction(f"order {context.order_ref} has no shipment {self.tracking_number}")
        return super().resolve(context)

    def exposure_minor(self, context: ActionContext) -> int:
        return self.cost_minor

    def effects(self, context: ActionContext) -> list[Effect]:
        payload = {
            **_base(context),
            "tracking_number": self.tracking_number,
            "to_service": self.to_service,
            "cost_minor": self.cost_minor,
        }
        return [Effect(System.SHIPPING, "upgrade_service", payload)]


class CancelLineParams(ActionParams):
    sku: Sku
    quantity: Quantity
    refund: bool = True
    restock: bool = True
    reason: Reason

    def resolve(self, context: ActionContext) -> Self:
        _lines_value(context, (LineQuantity(sku=self.sku, quantity=self.quantity),))
        return super().resolve(context)

    def exposure_minor(self, context: ActionContext) -> int:
        return _lines_value(context, (LineQuantity(sku=self.sku, quantity=self.quantity),))

    def effects(self, context: ActionContext) -> list[Effect]:
        refund_minor = self.exposure_minor(context) if self.refund else 0
        payload = {**_base(context), **self.model_dump(), "refund_minor": refund_minor}
        return [Effect(System.OMS, "cancel_line", payload)]


class CancelOrderParams(ActionParams):
    """Cancel the whole order; with ``refund`` (the default) everything still refundable on
    each captured payment goes back, and holds are released."""

    reason: Literal["customer", "fraud", "inventory", "declined", "other"]
    note: Annotated[str, Field(max_length=500)] | None = None
    refund: bool = True
    restock: bool = True

    def exposure_minor(self, context: ActionContext) -> int:
        """The refunds it queues (a released hold takes nothing from the retailer)."""
        if not self.refund:
            return 0
        return sum(p.refundable_minor for p in context.payments)

    def effects(self, context: ActionContext) -> list[Effect]:
        return [Effect(System.OMS, "cancel_order", {**_base(context), **self.model_dump()})]


class _HoldParams(ActionParams):
    payment_ref: str | None = None

    def resolve(self, context: ActionContext) -> Self:
        payment = context.payment(self.payment_ref, wanted="on_hold")
        return super().resolve(context).model_copy(update={"payment_ref": payment.payment_ref})

    def held_minor(self, context: ActionContext) -> int:
        return sum(p.amount_minor for p in context.payments if p.payment_ref == self.payment_ref)


class CapturePaymentParams(_HoldParams):
    amount_minor: Minor | None = None
    """Capture less than authorised (a line could not ship; the provider releases the rest,
    so the whole hold is taken either way); omitted: the whole hold."""

    def resolve(self, context: ActionContext) -> Self:
        resolved = super().resolve(context)
        held = resolved.held_minor(context)
        available = context.payment(resolved.payment_ref, wanted="on_hold").hold_available_minor
        amount = self.amount_minor or available
        if amount > held:
            raise InvalidAction(f"capture of {amount} exceeds the {held} authorised")
        if amount > available:
            raise InvalidAction(
                f"capture of {amount} exceeds the {available} of the hold that no capture, "
                "release or void in progress has taken"
            )
        return resolved.model_copy(update={"amount_minor": amount})

    def exposure_minor(self, context: ActionContext) -> int:
        return self.amount_minor or 0

    def effects(self, context: ActionContext) -> list[Effect]:
        payload = {**_base(context), "payment_ref": self.payment_ref}
        return [Effect(System.PAYMENTS, "capture", {**payload, "amount_minor": self.amount_minor})]


class ReleasePaymentHoldParams(_HoldParams):
    """Give the customer's funds back without taking them (order will not be charged)."""

    reason: Reason

    def exposure_minor(self, context: ActionContext) -> int:
        return self.held_minor(context)

    def effects(self, context: ActionContext) -> list[Effect]:
        payload = {**_base(context), "payment_ref": self.payment_ref, "reason": self.reason}
        return [Effect(System.PAYMENTS, "release_hold", payload)]


class VoidPaymentParams(_HoldParams):
    reason: Literal["fraudulent", "duplicate", "abandoned", "requested_by_customer"]

    def exposure_minor(self, context: ActionContext) -> int:
        return self.held_minor(context)

    def effects(self, context: ActionContext) -> list[Effect]:
        payload = {**_base(context), "payment_ref": self.payment_ref, "reason": self.reason}
        return [Effect(System.PAYMENTS, "void", payload)]


class HoldFulfillmentParams(ActionParams):
    reason: Literal["fraud_review", "address_check", "inventory", "payment", "other"]
    note: Annotated[str, Field(max_length=500)] | None = None

    def exposure_minor(self, context: ActionContext) -> int:
        return 0

    def effects(self, context: ActionContext) -> list[Effect]:
        return [Effect(System.OMS, "hold_fulfillment", {**_base(context), **self.model_dump()})]


class ReleaseFulfillmentParams(ActionParams):
    note: Annotated[str, Field(max_length=500)] | None = None

    def exposure_minor(self, context: ActionContext) -> int:
        return 0

    def effects(self, context: ActionContext) -> list[Effect]:
        return [
            Effect(System.OMS, "release_fulfillment_hold", {**_base(context), **self.model_dump()})
        ]


class AddressCorrectionParams(ActionParams):
    channel: Literal["email", "sms"] = "email"
    problem: Reason
    suggested_address: dict[str, str] | None = None

    def exposure_minor(self, context: ActionContext) -> int:
        return 0

    def effects(self, context: ActionContext) -> list[Effect]:
        payload = {**_base(context), **self.model_dump(), "customer_id": context.customer_id}
        return [Effect(System.SUPPORT, "request_address_correction", payload)]


class ContactCustomerParams(ActionParams):
    channel: Literal["email", "sms"] = "email"
    subject: Annotated[str, Field(min_length=1, max_length=200)]
    body: Annotated[str, Field(min_length=1, max_length=5000)]

    def exposure_minor(self, context: ActionContext) -> int:
        return 0

    def effects(self, context: ActionContext) -> list[Effect]:
        payload = {**_base(context), **self.model_dump(), "customer_id": context.customer_id}
        return [Effect(System.SUPPORT, "send_message", payload)]


class SupportHandoffParams(ActionParams):
    team: Literal["support", "fraud", "finance", "ops"] = "support"
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    summary: Annotated[str, Field(min_length=3, max_length=2000)]

    def exposure_minor(self, context: ActionContext) -> int:
        return 0

    def effects(self, context: ActionContext) -> list[Effect]:
        return [Effect(System.SUPPORT, "create_ticket", {**_base(context), **self.model_dump()})]


class AcceptDelayParams(ActionParams):
    """The customer accepts the later date (their choice, ``domain/choices.py``): the shop's
    order gets a note saying so, so support answers a chaser from the same page."""

    note: Annotated[str, Field(min_length=3, max_length=500)]

    def exposure_minor(self, context: ActionContext) -> int:
        return 0

    def effects(self, context: ActionContext) -> list[Effect]:
        return [Effect(System.OMS, "add_note", {**_base(context), "text": self.note})]


class OverrideParams(ActionParams):
    """Close the case a way the catalogue does not cover; the justification is the record."""

    resolution: Annotated[str, Field(min_length=3, max_length=200)]
    justification: Annotated[str, Field(min_length=20, max_length=2000)]

    def exposure_minor(self, context: ActionContext) -> int:
        return 0

    def effects(self, context: ActionContext) -> list[Effect]:
        text = f"Override: {self.resolution}. {self.justification}"
        return [Effect(System.OMS, "add_note", {**_base(context), "text": text})]


SPECS: dict[ActionKind, ActionSpec] = {
    spec.kind: spec
    for spec in (
        ActionSpec(ActionKind.REFUND, RefundParams, "Refund (full or partial)", money=PAYOUT),
        ActionSpec(ActionKind.STORE_CREDIT, StoreCreditParams, "Store credit", money=PAYOUT),
        ActionSpec(ActionKind.RESHIP, ReshipParams, "Replacement / reship", money=PAYOUT),
        ActionSpec(ActionKind.SUBSTITUTE, SubstituteParams, "Substitute SKU", money=PAYOUT),
        ActionSpec(
            ActionKind.SHIPPING_UPGRADE, ShippingUpgradeParams, "Shipping upgrade", money=PAYOUT
        ),
        ActionSpec(ActionKind.CANCEL_LINE, CancelLineParams, "Cancel a line", money=PAYOUT),
        ActionSpec(ActionKind.CANCEL_ORDER, CancelOrderParams, "Cancel the order", money=PAYOUT),
        ActionSpec(
            ActionKind.CAPTURE_PAYMENT,
            CapturePaymentParams,
            "Capture a payment hold",
            money=MoneyFlow.CAPTURE,
        ),
        ActionSpec(
            ActionKind.RELEASE_PAYMENT_HOLD,
            ReleasePaymentHoldParams,
            "Release a payment hold",
            money=MoneyFlow.HOLD_RELEASE,
        ),
        ActionSpec(
            ActionKind.VOID_PAYMENT,
            VoidPaymentParams,
            "Void a payment hold",
            money=MoneyFlow.HOLD_RELEASE,
        ),
        ActionSpec(ActionKind.HOLD_FULFILLMENT, HoldFulfillmentParams, "Hold fulfillment"),
        ActionSpec(
            ActionKind.RELEASE_FULFILLMENT, ReleaseFulfillmentParams, "Release fulfillment hold"
        ),
        ActionSpec(
            ActionKind.REQUEST_ADDRESS_CORRECTION,
            AddressCorrectionParams,
            "Ask the customer to correct the address",
        ),
        ActionSpec(ActionKind.CONTACT_CUSTOMER, ContactCustomerParams, "Contact the customer"),
        ActionSpec(ActionKind.SUPPORT_HANDOFF, SupportHandoffParams, "Hand off to support"),
        ActionSpec(ActionKind.OVERRIDE, OverrideParams, "Override", overrides_policy=True),
        ActionSpec(ActionKind.ACCEPT_DELAY, AcceptDelayParams, "The customer accepts the delay"),
    )
}
"""Every kind; those with ``money`` are the ones approval policies must judge by amount."""
