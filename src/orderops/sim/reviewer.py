"""The simulated human reviewer: the one resolution a person at the desk would choose.

``sim.resolutions`` lists the actions a desk would *accept*; its thresholds were
written beside the default playbook, so scoring the playbook against it is circular.
This module is the independent reference: a reviewer's own rules, written from the
order's facts (value, customer tier, days late, fraud score, dispute, stock) without
reading ``recommend/`` or the playbook YAML, that pick exactly *one* action per case.
The recommender's top-1 agrees when its first primary action is that action; top-3
when it is among the first three.

How this reviewer decides (a summary; the code is the definition), money first:

- an order already cancelled: nothing to do;
- payment failed: a fraud score of 0.7 or more is cancelled, else the customer asked
  for another card;
- payment hold / authorisation expiring / fraud review: a chargeback goes to the fraud
  team; 0.75 or more is cancelled (an expiring authorisation voided); 0.4 to 0.75 is
  held (reviewed by the fraud team when it is a plain hold); below 0.4 the money is
  captured (a fraud review released);
- duplicate charge: refund; refund pending: tell the customer;
- shortfall / substitution: substitute when a same-category SKU at no more than
  ``SUBSTITUTE_PRICE_BAND`` of the price is in stock at the order's location; else
  cancel the line of a multi-line order, ask the customer about a single-line one;
- late and delivered: a store credit for a VIP or an order of ``CREDIT_VALUE_MINOR`` or
  more, else an apology; late, not delivered, ``LOST_DAYS`` or more: refund what is
  cheaper than ``CHEAP_ORDER_MINOR``, reship the rest; lost in transit: reship;
  otherwise tell the customer;
- delay predicted / pre-dispatch delay: upgrade shipping for a VIP or an order of
  ``UPGRADE_VALUE_MINOR`` or more, else warn the customer;
- carrier exception: address failure -> correction; lost -> reship; else chase
  (hand-off); address problem -> correction; stuck order -> hand-off;
- partial fulfilment overdue: reship the rest for a VIP, else ask the customer;
- customer chasing: answer; a cancel request: cancel (explain the return once
  delivered); anything else (integration silence ...): hand-off.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orderops.domain.cases import ExceptionType
from orderops.sim.labels import Label
from orderops.sim.resolutions import NO_ACTION, _Facts, _fold

SUBSTITUTE_PRICE_BAND = 1.0
"""The reviewer only substitutes at the same price or cheaper (no approval needed)."""
HIGH_RISK = 0.75
MEDIUM_RISK = 0.4
FAILED_PAYMENT_RISK = 0.7
LOST_DAYS = 5.0
CHEAP_ORDER_MINOR = 3_000
CREDIT_VALUE_MINOR = 10_000
UPGRADE_VALUE_MINOR = 15_000


@dataclass(frozen=True)
class ReviewerDecision:
    label: Label
    action: str
    """One action kind (domain.actions.ActionKind value) or ``NO_ACTION``."""
    why: str


def _value(f: _Facts) -> int:
    return sum(quantity * price for _, quantity, price in f.lines)


def _substitutable(
    f: _Facts, stock: Mapping[tuple[str, str], int], prices: Mapping[str, int]
) -> bool:
    for sku, quantity, price in f.lines:
        if stock.get((sku, f.location or ""), 0) >= quantity:
            continue  # this line can be filled where the order ships: nothing to replace
        category = sku.split("-", 1)[0]
        for other, other_price in prices.items():
            if (
                other != sku
                and other.split("-", 1)[0] == category
                and other_price <= price * SUBSTITUTE_PRICE_BAND
                and stock.get((other, f.location or ""), 0) >= quantity
            ):
                return True
    return False


def _risk_choice(t: ExceptionType, f: _Facts) -> tuple[str, str]:
    if f.dispute:
        return "support_handoff", "chargeback: the fraud team answers it"
    if f.fraud >= HIGH_RISK:
        if t is ExceptionType.AUTHORIZATION_EXPIRING:
            return "void_payment", "high risk: let the authorisation go"
        return "cancel_order", "high risk: not worth shipping"
    if f.fraud >= MEDIUM_RISK:
        if t is ExceptionType.PAYMENT_HOLD:
            return "support_handoff", "medium risk: the fraud team looks first"
        return "hold_fulfillment", "medium risk: hold while someone looks"
    if t is ExceptionType.FRAUD_REVIEW:
        return "release_fulfillment", "low risk: let it ship"
    return "capture_payment", "low risk: take the money"


def _late_choice(f: _Facts, *, decide_at: datetime) -> tuple[str, str]:
    value = _value(f)
    if f.delivered_at is not None:
        if f.tier == "vip" or value >= CREDIT_VALUE_MINOR:
            return "store_credit", "arrived late on a valuable order: a goodwill credit"
        return "contact_customer", "arrived late: an apology"
    if f.lost:
        return "reship", "lost in transit: send it again"
    late_days = 0.0
    if f.promised_by is not None:
        late_days = max(0.0, (decide_at - f.promised_by).total_seconds() / 86400)
    if late_days >= LOST_DAYS:
        if value < CHEAP_ORDER_MINOR:
            return "refund", "long overdue and cheap: refund rather than reship"
        return "reship", "long overdue: reship"
    return "contact_customer", "a little late: tell the customer"


def decide(label: Label, f: _Facts, *, substitutable: bool, decide_at: datetime) -> tuple[str, str]:
    """The reviewer's one action for ``label`` on the facts ``f``, and why."""
    t = label.type
    if f.cancelled:
        return NO_ACTION, "the order is cancelled"
    if t is ExceptionType.PAYMENT_FAILED:
        if f.fraud >= FAILED_PAYMENT_RISK:
            return "cancel_order", "failed payment on a risky order"
        return "contact_customer", "ask for another card"
    if t in (
        ExceptionType.PAYMENT_HOLD,
        ExceptionType.AUTHORIZATION_EXPIRING,
        ExceptionType.FRAUD_REVIEW,
    ):
        return _risk_choice(t, f)
    if t is ExceptionType.DUPLICATE_CHARGE:
        return "refund", "charged twice"
    if t is ExceptionType.REFUND_PENDING:
        return "contact_customer", "the refund is on its way"
    if t in (ExceptionType.INVENTORY_SHORTFALL, ExceptionType.SUBSTITUTION_NEEDED):
        if substitutable:
            return "substitute", "an equal or cheaper item of the same kind is in stock"
        if len(f.lines) > 1:
            return "cancel_line", "ship the rest, cancel the missing line"
        return "contact_customer", "ask whether to wait or cancel"
    if t is ExceptionType.SHIPMENT_LATE:
        return _late_choice(f, decide_at=decide_at)
    if t in (ExceptionType.SHIPMENT_DELAY_PREDICTED, ExceptionType.PRE_DISPATCH_DELAY):
        if f.tier == "vip" or _value(f) >= UPGRADE_VALUE_MINOR:
            return "shipping_upgrade", "valuable order: pay for speed"
        return "contact_customer", "warn the customer"
    if t is ExceptionType.CARRIER_EXCEPTION:
        if f.address_failed:
            return "request_address_correction", "the carrier could not deliver to the address"
        if f.lost:
            return "reship", "lost by the carrier"
        return "support_handoff", "chase the carrier"
    if t is ExceptionType.ADDRESS_PROBLEM:
        return "request_address_correction", "the address must be corrected"
    if t is ExceptionType.PARTIAL_FULFILLMENT_OVERDUE:
        if f.tier == "vip":
            return "reship", "VIP: send the rest"
        return "contact_customer", "ask about the missing part"
    if t is ExceptionType.CUSTOMER_CHASING:
        return "contact_customer", "answer the customer"
    if t is ExceptionType.CANCEL_REQUESTED:
        if f.delivered_at is not None:
            return "contact_customer", "already delivered: explain the return"
        return "cancel_order", "the customer asked to cancel"
    return "support_handoff", "operations must look"


def review(
    events: Sequence[Mapping[str, Any]], labels: Iterable[Label], *, decide_at: datetime
) -> list[ReviewerDecision]:
    """One decision per label, on the events known at ``decide_at``."""
    facts, stock, prices = _fold(events, decide_at)
    out: list[ReviewerDecision] = []
    for label in labels:
        f = facts.get(label.order_ref, _Facts())
        action, why = decide(
            label, f, substitutable=_substitutable(f, stock, prices), decide_at=decide_at
        )
        out.append(ReviewerDecision(label, action, why))
    return out
