"""Stripe Event objects to payment updates, charge aliases and fraud signals.

Stripe amounts are already integers in the currency's minor unit, so no conversion
happens here. The envelope id is the Stripe event id (``evt_...``) and its time is
the event's ``created``, the only ordering Stripe guarantees between two events.

Stripe names no order. A PaymentIntent names one through metadata the store wrote (a
checkout or cart token at checkout, the order id or number later); a charge names its
PaymentIntent; a dispute, early fraud warning or review names a charge and sometimes the
PaymentIntent. Each goes out with those names as keys and no ``order_ref``: resolve
follows them to the order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.domain.statuses import PaymentStatus
from orderops.ingest.adapters.common import (
    JsonObject,
    UnsupportedEvent,
    event,
    external_keys,
    load_object,
    obj,
    opt_obj,
    opt_text,
    parse_time,
    text,
)
from orderops.ingest.signatures import verify_stripe

SOURCE = "stripe"

METADATA_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("checkout_token", ("shopify.checkout_token",)),
    ("cart_token", ("shopify.cart_token",)),
    ("shopify_order_id", ("shopify.order", "order.ref", "order.number")),
    ("order_id", ("shopify.order", "order.ref", "order.number")),
    ("order_number", ("order.number", "order.name")),
    ("order_name", ("order.name", "order.number")),
)
"""Metadata keys stores set on a PaymentIntent (and Stripe copies to its charges), each
with the kinds of order key its value may be, surest first. A PaymentIntent made at
checkout exists before its order and names the checkout or cart token; a payment taken
later names the order's id or number, and an ``order_id`` may hold either, so it is
offered as both (an exact id first, then as a number)."""

PAYMENT_INTENT_STATUSES: dict[str, PaymentStatus] = {
    "payment_intent.succeeded": PaymentStatus.CAPTURED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.canceled": PaymentStatus.VOIDED,
    "payment_intent.requires_action": PaymentStatus.REQUIRES_ACTION,
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORIZED,
    "payment_intent.processing": PaymentStatus.PENDING,
}

CHARGE_ALIAS_TYPES = frozenset(
    {
        "charge.succeeded",
        "charge.captured",
        "charge.failed",
        "charge.pending",
        "charge.updated",
        "charge.expired",
    }
)
"""Charge events whose payment facts the PaymentIntent events already carry; what they
add is which PaymentIntent a charge belongs to, which is all a dispute or a Radar
object may name."""

FRAUD_KINDS: dict[str, str] = {
    "charge.dispute.created": "dispute",
    "radar.early_fraud_warning.created": "early_fraud_warning",
    "review.opened": "review_opened",
    "review.closed": "review_closed",
}

IGNORED_TYPES = frozenset(
    {
        "payment_intent.created",
        "payment_intent.partially_funded",
        "charge.refund.updated",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
        "radar.early_fraud_warning.updated",
    }
)
"""Known event types whose facts arrive through a mapped type."""


class StripeAdapter:
    source = SOURCE

    def verify(
        self, *, headers: Mapping[str, str], body: bytes, secret: str, now: datetime
    ) -> None:
        verify_stripe(headers=headers, body=body, secret=secret, now=now)

    def to_events(self, *, headers: Mapping[str, str], body: bytes) -> list[JsonObject]:
        raw = load_object(body, provider=SOURCE)
        event_type = text(raw, "type", where="event")
        event_id = text(raw, "id", where="event")
        created = parse_time(raw.get("created"), where="event.created")
        subject = obj(obj(raw, "data", where="event"), "object", where="event.data")
        if event_type in PAYMENT_INTENT_STATUSES:
            data = map_payment_intent(subject, PAYMENT_INTENT_STATUSES[event_type])
            return [_event(event_id, EventType.PAYMENT_UPDATED, created, data)]
        if event_type == "charge.refunded":
            data = map_refunded_charge(subject)
            return [_event(event_id, EventType.PAYMENT_UPDATED, created, data)]
        if event_type in CHARGE_ALIAS_TYPES:
            alias = map_charge_alias(subject)
            if alias is None:
                return []
            return [_event(event_id, EventType.ALIAS_OBSERVED, created, alias)]
        if event_type in FRAUD_KINDS:
            data = map_fraud_signal(subject, FRAUD_KINDS[event_type])
            return [_event(event_id, EventType.FRAUD_SIGNAL, created, data)]
        if event_type in IGNORED_TYPES:
            return []
        raise UnsupportedEvent(f"stripe event type {event_type!r} is not supported")


def map_payment_intent(intent: JsonObject, status: PaymentStatus) -> dict[str, Any]:
    """A PaymentIntent's state. It names its order only through metadata, which may be a
    checkout token written before the order existed, so the order is left to resolve
    (``order_keys``); its charges go out as its other names (``aliases``)."""
    where = "payment_intent"
    amount = _amount(intent, "amount", where, required=True)
    if status is PaymentStatus.CAPTURED:
        amount = _amount(intent, "amount_received", where) or amount
    elif status is PaymentStatus.AUTHORIZED:
        amount = _amount(intent, "amount_capturable", where) or amount
    error = opt_obj(intent, "last_payment_error") or {}
    failed = status is PaymentStatus.FAILED
    return {
        "payment_ref": text(intent, "id", where=where),
        "provider": SOURCE,
        "status": status,
        "amount_minor": amount,
        "currency": text(intent, "currency", where=where).upper(),
        "failure_code": (opt_text(error, "code") or opt_text(error, "decline_code"))
        if failed
        else None,
        "failure_message": opt_text(error, "message") if failed else None,
        "order_keys": order_keys_from(intent),
        "aliases": external_keys(("stripe.charge", charge) for charge in _charges_of(intent)),
    }


def map_refunded_charge(charge: JsonObject) -> dict[str, Any]:
    """A charge with money returned: fully refunded only when nothing captured is left.

    The payment is the charge's PaymentIntent (the charge itself for a legacy charge
    without one), so the refund lands on the payment its other events describe.
    """
    where = "charge"
    charge_id = text(charge, "id", where=where)
    amount = _amount(charge, "amount", where, required=True)
    refunded = _amount(charge, "amount_refunded", where)
    captured = _amount(charge, "amount_captured", where) or amount
    status = PaymentStatus.REFUNDED if refunded >= captured else PaymentStatus.PARTIALLY_REFUNDED
    return {
        "payment_ref": _ref(charge, "payment_intent") or charge_id,
        "provider": SOURCE,
        "status": status,
        "amount_minor": amount,
        "currency": text(charge, "currency", where=where).upper(),
        "amount_refunded_minor": refunded,
        "order_keys": order_keys_from(charge),
        "aliases": external_keys([("stripe.charge", charge_id)]),
    }


def map_charge_alias(charge: JsonObject) -> dict[str, Any] | None:
    """ "This charge belongs to that PaymentIntent", or None for a charge made without one
    (the legacy Charges API), which no other record can name through a PaymentIntent."""
    charge_id = text(charge, "id", where="charge")
    intent = _ref(charge, "payment_intent")
    if intent is None:
        return None
    return {
        "entity": {"kind": "stripe.payment_intent", "value": intent},
        "aliases": external_keys([("stripe.charge", charge_id)]),
    }


def map_fraud_signal(subject: JsonObject, kind: str) -> dict[str, Any]:
    """Disputes, early fraud warnings and Radar reviews, named by what they carry.

    These objects name no order, only a charge and often its PaymentIntent; both go out
    as keys (after any order metadata, the surest) and resolve follows them to the order
    through the payment it already knows.
    """
    keys = external_keys(
        [
            *((k["kind"], k["value"]) for k in order_keys_from(subject)),
            ("stripe.payment_intent", _ref(subject, "payment_intent")),
            ("stripe.charge", _ref(subject, "charge")),
        ]
    )
    if not keys:
        raise InvalidEvent(f"{kind} names neither an order, a payment_intent nor a charge")
    details = [
        f"{label}={value}"
        for label, value in (
            ("id", opt_text(subject, "id")),
            ("reason", opt_text(subject, "reason")),
            ("fraud_type", opt_text(subject, "fraud_type")),
            ("closed_reason", opt_text(subject, "closed_reason")),
            ("status", opt_text(subject, "status")),
            ("amount", opt_text(subject, "amount")),
            ("currency", opt_text(subject, "currency")),
        )
        if value
    ]
    return {
        "kind": kind,
        "detail": ", ".join(details) or None,
        "signal_ref": opt_text(subject, "id"),
        "order_keys": keys,
    }


def order_keys_from(stripe_object: JsonObject) -> list[JsonObject]:
    """The order keys a Stripe object's metadata offers, surest first."""
    metadata = opt_obj(stripe_object, "metadata") or {}
    return external_keys(
        (kind, opt_text(metadata, key)) for key, kinds in METADATA_KEYS for kind in kinds
    )


def _charges_of(intent: JsonObject) -> list[str]:
    """The PaymentIntent's charges: ``latest_charge`` (API 2022-11-15 on), and the
    ``charges`` list older API versions embed."""
    found = [_ref(intent, "latest_charge")]
    charges = opt_obj(intent, "charges") or {}
    listed = charges.get("data")
    for charge in listed if isinstance(listed, list) else []:
        if isinstance(charge, dict):
            found.append(opt_text(charge, "id"))
    return [c for c in found if c]


def _ref(stripe_object: JsonObject, key: str) -> str | None:
    """An id field, also when the sender expanded it into the object it names."""
    value = stripe_object.get(key)
    if isinstance(value, dict):
        return opt_text(value, "id")
    return opt_text(stripe_object, key)


def _amount(stripe_object: JsonObject, key: str, where: str, *, required: bool = False) -> int:
    value = stripe_object.get(key)
    if value is None:
        if required:
            raise InvalidEvent(f"{where}.{key} is missing")
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent(f"{where}.{key} is not an integer amount: {value!r}")
    return value


def _event(event_id: str, type_: EventType, time: datetime, data: dict[str, Any]) -> JsonObject:
    entity = data.get("entity") or {}
    subject = data.get("payment_ref") or data.get("signal_ref") or entity.get("value")
    return event(
        source=SOURCE, event_id=event_id, type_=type_, time=time, subject=subject, data=data
    )
