"""Stripe Event objects (API 2024-06-20) for each PaymentIntent, its charges and signals.

Each confirmation makes a new charge: a decline is ``charge.failed`` beside
``payment_intent.payment_failed``; an approval ``charge.succeeded`` beside
``payment_intent.succeeded`` (automatic capture) or
``payment_intent.amount_capturable_updated`` (manual capture, captured later with
``charge.captured``). Charges copy the intent's metadata when the store set it up to.
Disputes, early fraud warnings and Radar reviews name the charge, and about half of
them the PaymentIntent too; none names the order.

Shapes follow tests/fixtures/stripe (webhook_events, derived), in the newer API version
that names ``latest_charge`` on the PaymentIntent instead of listing ``charges``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from orderops.sim.providers.aftermath import captured_at
from orderops.sim.providers.story import Attempt, OrderStory, Outcome, PaymentStory, SignalStory
from orderops.sim.providers.wire import Draft, unix

API_VERSION = "2024-06-20"
HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
}
_BRANDS = (("visa", "4242"), ("mastercard", "4444"), ("amex", "8431"), ("visa", "1881"))
_EVIDENCE_KEYS = (
    "access_activity_log", "billing_address", "cancellation_policy",
    "cancellation_policy_disclosure", "cancellation_rebuttal", "customer_communication",
    "customer_email_address", "customer_name", "customer_purchase_ip", "customer_signature",
    "duplicate_charge_documentation", "duplicate_charge_explanation", "duplicate_charge_id",
    "product_description", "receipt", "refund_policy", "refund_policy_disclosure",
    "refund_refusal_explanation", "service_date", "service_documentation", "shipping_address",
    "shipping_carrier", "shipping_date", "shipping_documentation", "shipping_tracking_number",
    "uncategorized_file", "uncategorized_text",
)  # fmt: skip


class StripeRenderer:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()

    def _id(self, prefix: str, size: int = 24) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        while True:
            value = f"{prefix}_1P" + "".join(self._rng.choice(alphabet) for _ in range(size - 2))
            if value not in self._seen:
                self._seen.add(value)
                return value

    def _event(
        self,
        type_: str,
        at: datetime,
        obj: dict[str, Any],
        subject: str,
        order: OrderStory,
        tags: tuple[str, ...] = (),
    ) -> Draft:
        body = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": unix(at),
            "data": {"object": obj},
            "livemode": True,
            "pending_webhooks": 1,
            "request": {"id": self._id("req", 14), "idempotency_key": None},
            "type": type_,
        }
        return Draft(at, "stripe", dict(HEADERS), body, subject, order.order_id, (1.0, 6.0), tags)

    def drafts(self, order: OrderStory) -> list[Draft]:
        out: list[Draft] = []
        card = self._rng.choice(_BRANDS)
        method = self._id("pm")
        for payment in order.payments:
            out += self._payment(order, payment, card, method)
        for signal in order.signals:
            out += self._signal(order, signal)
        return out

    def _intent(
        self, order: OrderStory, p: PaymentStory, status: str, charge: str | None, **extra: Any
    ) -> dict[str, Any]:
        return {
            "id": p.intent_id,
            "object": "payment_intent",
            "amount": p.amount_minor,
            "amount_capturable": 0,
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": p.capture_method,
            "client_secret": f"{p.intent_id}_secret_{p.intent_id[-10:]}",
            "confirmation_method": "automatic",
            "created": unix(p.created_at),
            "currency": "usd",
            "customer": None,
            "description": f"Northwind Goods order {order.name}"
            if "order_id" in p.metadata or "order_number" in p.metadata
            else "Northwind Goods checkout",
            "invoice": None,
            "last_payment_error": None,
            "latest_charge": charge,
            "livemode": True,
            "metadata": dict(p.metadata),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": None,
            "payment_method_types": ["card"],
            "processing": None,
            "receipt_email": order.customer.email,
            "review": None,
            "setup_future_usage": None,
            "shipping": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": status,
            "transfer_data": None,
            "transfer_group": None,
            **extra,
        }

    def _charge(
        self,
        order: OrderStory,
        p: PaymentStory,
        attempt: Attempt,
        card: tuple[str, str],
        method: str,
        **extra: Any,
    ) -> dict[str, Any]:
        declined = attempt.outcome is Outcome.DECLINED
        captured = attempt.outcome is Outcome.CAPTURED
        brand, last4 = card
        return {
            "id": attempt.charge_id,
            "object": "charge",
            "amount": p.amount_minor,
            "amount_captured": p.amount_minor if captured else 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": None if declined else f"txn_{attempt.charge_id[3:]}",
            "billing_details": {
                "address": {
                    "city": None,
                    "country": "US",
                    "line1": None,
                    "line2": None,
                    "postal_code": order.customer.address.postal_code,
                    "state": None,
                },
                "email": order.customer.email,
                "name": order.customer.name,
                "phone": None,
            },
            "calculated_statement_descriptor": "NORTHWIND GOODS",
            "captured": captured,
            "created": unix(attempt.at),
            "currency": "usd",
            "customer": None,
            "description": None,
            "destination": None,
            "dispute": None,
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": attempt.decline_code,
            "failure_message": attempt.decline_message,
            "fraud_details": {},
            "invoice": None,
            "livemode": True,
            "metadata": dict(p.metadata) if p.charge_metadata else {},
            "on_behalf_of": None,
            "outcome": {
                "network_status": "declined_by_network" if declined else "approved_by_network",
                "reason": attempt.decline_code if declined else None,
                "risk_level": "normal",
                "risk_score": self._rng.randint(3, 40),
                "seller_message": "The bank did not return any further details with this decline."
                if declined
                else "Payment complete.",
                "type": "issuer_declined" if declined else "authorized",
            },
            "paid": not declined,
            "payment_intent": p.intent_id,
            "payment_method": method,
            "payment_method_details": {
                "card": {
                    "brand": brand,
                    "country": "US",
                    "exp_month": 9,
                    "exp_year": 2028,
                    "funding": "credit",
                    "last4": last4,
                    "network": brand,
                },
                "type": "card",
            },
            "receipt_email": order.customer.email,
            "receipt_number": None,
            "receipt_url": None
            if declined
            else f"https://pay.stripe.com/receipts/payment/{attempt.charge_id[3:]}",
            "refunded": False,
            "review": None,
            "shipping": None,
            "source": None,
            "source_transfer": None,
            "statement_descriptor": None,
            "statement_descriptor_suffix": None,
            "status": "failed" if declined else "succeeded",
            "transfer_data": None,
            "transfer_group": None,
            **extra,
        }

    def _payment(
        self, order: OrderStory, p: PaymentStory, card: tuple[str, str], method: str
    ) -> list[Draft]:
        key, out = f"pi:{p.intent_id}", []
        late = (
            ("later_payment",) if "order_id" in p.metadata or "order_number" in p.metadata else ()
        )
        last_good: Attempt | None = None
        for attempt in p.attempts:
            charge = self._charge(order, p, attempt, card, method)
            at = attempt.at
            if attempt.outcome is Outcome.DECLINED:
                error = {
                    "charge": attempt.charge_id,
                    "code": "card_declined"
                    if attempt.decline_code in ("insufficient_funds", "card_declined")
                    else attempt.decline_code,
                    "decline_code": attempt.decline_code,
                    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                    "message": attempt.decline_message,
                    "payment_method": {"id": method, "object": "payment_method", "type": "card"},
                    "type": "card_error",
                }
                intent = self._intent(
                    order,
                    p,
                    "requires_payment_method",
                    attempt.charge_id,
                    last_payment_error=error,
                    payment_method=None,
                )
                out.append(self._event("charge.failed", at, charge, key, order, late))
                out.append(
                    self._event(
                        "payment_intent.payment_failed",
                        at + timedelta(seconds=1),
                        intent,
                        key,
                        order,
                        late,
                    )
                )
                continue
            last_good = attempt
            out.append(self._event("charge.succeeded", at, charge, key, order, late))
            if attempt.outcome is Outcome.CAPTURED:
                intent = self._intent(
                    order,
                    p,
                    "succeeded",
                    attempt.charge_id,
                    amount_received=p.amount_minor,
                    payment_method=method,
                )
                out.append(
                    self._event(
                        "payment_intent.succeeded",
                        at + timedelta(seconds=1),
                        intent,
                        key,
                        order,
                        late,
                    )
                )
            else:
                intent = self._intent(
                    order,
                    p,
                    "requires_capture",
                    attempt.charge_id,
                    amount_capturable=p.amount_minor,
                    payment_method=method,
                )
                out.append(
                    self._event(
                        "payment_intent.amount_capturable_updated",
                        at + timedelta(seconds=1),
                        intent,
                        key,
                        order,
                        late,
                    )
                )
        if last_good is not None and p.captured_at is not None:
            at = p.captured_at
            charge = self._charge(
                order, p, last_good, card, method, captured=True, amount_captured=p.amount_minor
            )
            out.append(self._event("charge.captured", at, charge, key, order, late))
            intent = self._intent(
                order,
                p,
                "succeeded",
                last_good.charge_id,
                amount_received=p.amount_minor,
                payment_method=method,
            )
            out.append(
                self._event(
                    "payment_intent.succeeded", at + timedelta(seconds=1), intent, key, order, late
                )
            )
        if p.canceled_at is not None:
            reason = "automatic" if order.cancelled_at is None else "requested_by_customer"
            latest = p.attempts[-1].charge_id if p.attempts else None
            intent = self._intent(
                order,
                p,
                "canceled",
                latest,
                canceled_at=unix(p.canceled_at),
                cancellation_reason=reason,
            )
            out.append(self._event("payment_intent.canceled", p.canceled_at, intent, key, order))
        refunded = 0
        for refund in p.refunds:
            assert last_good is not None
            refunded += refund.amount_minor
            charge = self._charge(
                order,
                p,
                last_good,
                card,
                method,
                captured=True,
                amount_captured=p.amount_minor,
                amount_refunded=refunded,
                refunded=refunded >= p.amount_minor,
            )
            out.append(self._event("charge.refunded", refund.at, charge, key, order))
        return out

    def _signal(self, order: OrderStory, signal: SignalStory) -> list[Draft]:
        payment = next(p for p in order.payments if captured_at(p) is not None)
        charge = payment.charge_id
        intent = payment.intent_id if signal.names_intent else None
        key = f"signal:{signal.signal_id}"
        tag = ("signal_names_intent",) if intent else ("signal_names_charge_only",)
        at = signal.at
        if signal.kind == "dispute":
            obj: dict[str, Any] = {
                "id": signal.signal_id,
                "object": "dispute",
                "amount": payment.amount_minor,
                "balance_transactions": [],
                "charge": charge,
                "created": unix(at),
                "currency": "usd",
                "evidence": dict.fromkeys(_EVIDENCE_KEYS),
                "evidence_details": {
                    "due_by": unix(at + timedelta(days=9)),
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "livemode": True,
                "metadata": {},
                "payment_intent": intent,
                "payment_method_details": {
                    "card": {"brand": "visa", "network_reason_code": "10.4"},
                    "type": "card",
                },
                "reason": signal.reason,
                "status": "needs_response",
            }
            return [self._event("charge.dispute.created", at, obj, key, order, tag)]
        if signal.kind == "early_fraud_warning":
            obj = {
                "id": signal.signal_id,
                "object": "radar.early_fraud_warning",
                "actionable": True,
                "charge": charge,
                "created": unix(at),
                "fraud_type": signal.reason,
                "livemode": True,
                "payment_intent": intent,
            }
            return [self._event("radar.early_fraud_warning.created", at, obj, key, order, tag)]
        review = {
            "id": signal.signal_id,
            "object": "review",
            "billing_zip": order.customer.address.postal_code,
            "charge": charge,
            "closed_reason": None,
            "created": unix(at),
            "ip_address": None,
            "ip_address_location": None,
            "livemode": True,
            "open": True,
            "opened_reason": "rule",
            "payment_intent": intent,
            "reason": "rule",
            "session": None,
        }
        out = [self._event("review.opened", at, review, key, order, tag)]
        if signal.closed_at is not None:
            closed = {**review, "open": False, "closed_reason": "approved", "reason": "approved"}
            out.append(self._event("review.closed", signal.closed_at, closed, key, order))
        return out
