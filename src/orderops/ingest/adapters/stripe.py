"""Stripe Event objects to payment updates and fraud signals.

Stripe amounts are already integers in the currency's minor unit, so no conversion
happens here. The envelope id is the Stripe event id (``evt_...``) and its time is
the event's ``created``, the only ordering Stripe guarantees between two events.
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
    load_object,
    obj,
    opt_obj,
    opt_text,
    parse_time,
    text,
)
from orderops.ingest.signatures import verify_stripe

SOURCE = "stripe"

ORDER_METADATA_KEYS = ("order_id", "order_number", "shopify_order_id")
"""Metadata keys retailers commonly set on a PaymentIntent or Charge to name the order."""

PAYMENT_INTENT_STATUSES: dict[str, PaymentStatus] = {
    "payment_intent.succeeded": PaymentStatus.CAPTURED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.canceled": PaymentStatus.VOIDED,
    "payment_intent.requires_action": PaymentStatus.REQUIRES_ACTION,
    "payment_intent.amount_capturable_updated": PaymentStatus.AUTHORIZED,
    "payment_intent.processing": PaymentStatus.PENDING,
}

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
        "charge.succeeded",
        "charge.captured",
        "charge.failed",
        "charge.pending",
        "charge.updated",
        "charge.expired",
        "charge.refund.updated",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
        "radar.early_fraud_warning.updated",
    }
)
"""Known event types whose facts arrive through a mapped type (the PaymentIntent ones)."""


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
        elif event_type == "charge.refunded":
            data = map_refunded_charge(subject)
        elif event_type in FRAUD_KINDS:
            data = map_fraud_signal(subject, FRAUD_KINDS[event_type])
            return [_event(event_id, EventType.FRAUD_SIGNAL, created, data)]
        elif event_type in IGNORED_TYPES:
            return []
        else:
            raise UnsupportedEvent(f"stripe event type {event_type!r} is not supported")
        return [_event(event_id, EventType.PAYMENT_UPDATED, created, data)]


def map_payment_intent(intent: JsonObject, status: PaymentStatus) -> dict[str, Any]:
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
        "order_ref": order_ref_from(intent),
        "provider": SOURCE,
        "status": status,
        "amount_minor": amount,
        "currency": text(intent, "currency", where=where).upper(),
        "failure_code": (opt_text(error, "code") or opt_text(error, "decline_code"))
        if failed
        else None,
        "failure_message": opt_text(error, "message") if failed else None,
    }


def map_refunded_charge(charge: JsonObject) -> dict[str, Any]:
    """A charge with money returned: fully refunded only when nothing captured is left."""
    where = "charge"
    amount = _amount(charge, "amount", where, required=True)
    refunded = _amount(charge, "amount_refunded", where)
    captured = _amount(charge, "amount_captured", where) or amount
    status = PaymentStatus.REFUNDED if refunded >= captured else PaymentStatus.PARTIALLY_REFUNDED
    return {
        "payment_ref": opt_text(charge, "payment_intent") or text(charge, "id", where=where),
        "order_ref": order_ref_from(charge),
        "provider": SOURCE,
        "status": status,
        "amount_minor": amount,
        "currency": text(charge, "currency", where=where).upper(),
        "amount_refunded_minor": refunded,
    }


def map_fraud_signal(subject: JsonObject, kind: str) -> dict[str, Any]:
    """Disputes, early fraud warnings and Radar reviews, tied to an order when possible.

    Most of these objects carry no order metadata, only the charge or PaymentIntent;
    the order reference then falls back to that payment id, which identity resolution
    links to the order through the payment it already knows.
    """
    where = kind
    order_ref = (
        order_ref_from(subject)
        or opt_text(subject, "payment_intent")
        or opt_text(subject, "charge")
    )
    if order_ref is None:
        raise InvalidEvent(f"{where} names neither an order, a payment_intent nor a charge")
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
    return {"order_ref": order_ref, "kind": kind, "detail": ", ".join(details) or None}


def order_ref_from(stripe_object: JsonObject) -> str | None:
    metadata = opt_obj(stripe_object, "metadata") or {}
    for key in ORDER_METADATA_KEYS:
        value = opt_text(metadata, key)
        if value:
            return value
    return None


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
    subject = data.get("order_ref") or data.get("payment_ref")
    return event(
        source=SOURCE, event_id=event_id, type_=type_, time=time, subject=subject, data=data
    )
