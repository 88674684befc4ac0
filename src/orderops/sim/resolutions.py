"""Ground truth for recommendations: which resolutions a good desk would accept per label.

Written as rules from the label's exception type and the simulated facts of its order as
the events show them at the label's time, independently of any playbook: the recommender
is scored on whether its first (top-1) or any of its first three (top-3) primary actions
is in the acceptable set. The rules (a summary; the code is the definition):

- an order already cancelled: no action (the case closes itself);
- payment failed: ask for a new payment; cancel if the order looks fraudulent;
- payment hold / authorisation expiring: capture when the order is clean; hold, void or
  cancel when risky (fraud score above 60 / 80);
- fraud review: a chargeback is handed to the fraud team; high risk is cancelled or
  voided; medium risk held and reviewed; low risk released;
- duplicate charge: refund; refund pending: reassure or hand to finance;
- inventory shortfall / substitution: substitute when a same-category SKU at no more
  than 110% of the price is in stock where the order ships, else cancel the line;
- late shipment: delivered late -> a credit or an apology; not delivered and more than
  three days late -> reship or refund (VIPs: reship); less -> update or upgrade;
- carrier exception: an address failure asks for a correction; otherwise reship or chase;
- address problem: ask for a correction; stuck order: hand off or release;
- partial fulfillment overdue: cancel or reship the line, or update the customer;
- customer chasing: answer or escalate; integration silence: hand to operations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orderops.domain.cases import ExceptionType
from orderops.domain.events import EventType
from orderops.sim.labels import Label

SUBSTITUTE_PRICE_BAND = 1.10
LATE_DAYS = 3.0
NO_ACTION = "no_action"
"""The right answer for a case whose order is already cancelled: recommend nothing."""


@dataclass(frozen=True)
class Resolution:
    label: Label
    acceptable: frozenset[str]
    """Primary action kinds (domain.actions.ActionKind values) a good desk would accept."""
    why: str


@dataclass
class _Facts:
    tier: str = "standard"
    promised_by: datetime | None = None
    delivered_at: datetime | None = None
    fraud: float = 0.0
    dispute: bool = False
    address_failed: bool = False
    lost: bool = False
    lines: tuple[tuple[str, int, int], ...] = ()
    location: str | None = None
    cancelled: bool = False


def _fold(
    events: Iterable[Mapping[str, Any]], until: datetime
) -> tuple[dict[str, _Facts], dict[tuple[str, str], int], dict[str, int]]:
    facts: dict[str, _Facts] = {}
    stock: dict[tuple[str, str], int] = {}
    prices: dict[str, int] = {}
    order_of: dict[str, str] = {}
    for event in events:
        if datetime.fromisoformat(event["time"]) > until:
            continue
        kind, data = EventType(event["type"]), event["data"]
        if kind is EventType.ORDER_PLACED:
            f = facts.setdefault(data["order_ref"], _Facts())
            f.tier = (data.get("customer") or {}).get("tier") or "standard"
            f.promised_by = (
                datetime.fromisoformat(data["promised_by"]) if data.get("promised_by") else None
            )
            f.location = data.get("location")
            f.lines = tuple(
                (x["sku"], int(x["quantity"]), int(x["unit_price_minor"])) for x in data["lines"]
            )
            for sku, _, price in f.lines:
                prices[sku] = price
        elif kind is EventType.ORDER_CANCELLED:
            facts.setdefault(data["order_ref"], _Facts()).cancelled = True
        elif kind is EventType.SHIPMENT_CREATED:
            order_of[data["tracking_number"]] = data["order_ref"]
        elif kind is EventType.SHIPMENT_TRACKING and data["tracking_number"] in order_of:
            f = facts.setdefault(order_of[data["tracking_number"]], _Facts())
            status = data["status"]
            if status == "delivered" and f.delivered_at is None:
                f.delivered_at = datetime.fromisoformat(data["occurred_at"])
            if status in ("lost", "exception"):
                f.lost = True
            if status == "return_to_sender" or "address" in (data.get("message") or "").lower():
                f.address_failed = True
        elif kind is EventType.FRAUD_SIGNAL:
            f = facts.setdefault(data["order_ref"], _Facts())
            f.fraud = max(f.fraud, float(data.get("score") or 0) / 100)
            f.dispute = f.dispute or data["kind"] == "dispute"
        elif kind is EventType.INVENTORY_LEVEL:
            stock[(data["sku"], data["location"])] = int(data["available"])
    return facts, stock, prices


def _substitutable(
    f: _Facts, stock: Mapping[tuple[str, str], int], prices: Mapping[str, int]
) -> bool:
    for sku, quantity, price in f.lines:
        if stock.get((sku, f.location or ""), 0) >= quantity:
            continue  # this line can be filled where the order ships: nothing to replace
        prefix = sku.split("-", 1)[0]
        for other, other_price in prices.items():
            if (
                other != sku
                and other.split("-", 1)[0] == prefix
                and other_price <= price * SUBSTITUTE_PRICE_BAND
                and stock.get((other, f.location or ""), 0) >= quantity
            ):
                return True
    return False


def acceptable_for(
    label: Label, f: _Facts, *, substitutable: bool, decide_at: datetime
) -> tuple[frozenset[str], str]:
    t = label.type
    if f.cancelled:
        return frozenset({NO_ACTION}), "the order is cancelled: nothing is left to do"
    late = 0.0
    if f.promised_by is not None:
        until = f.delivered_at or decide_at
        late = max(0.0, (until - f.promised_by).total_seconds() / 86400)
    if t is ExceptionType.PAYMENT_FAILED:
        if f.fraud > 0.8:
            return frozenset({"cancel_order"}), "failed payment on a high-risk order"
        return frozenset({"contact_customer", "cancel_order"}), "ask for another payment"
    if t in (ExceptionType.PAYMENT_HOLD, ExceptionType.AUTHORIZATION_EXPIRING):
        if f.fraud > 0.6:
            return frozenset(
                {"hold_fulfillment", "void_payment", "cancel_order", "support_handoff"}
            ), "risky hold"
        return frozenset({"capture_payment"}), "clean order: capture"
    if t is ExceptionType.FRAUD_REVIEW:
        if f.dispute:
            return frozenset({"support_handoff"}), "chargeback: evidence to the fraud team"
        if f.fraud > 0.8:
            return frozenset({"cancel_order", "void_payment", "hold_fulfillment"}), "high risk"
        if f.fraud > 0.5:
            return frozenset({"hold_fulfillment", "support_handoff"}), "medium risk"
        return frozenset({"release_fulfillment", "capture_payment"}), "low risk"
    if t is ExceptionType.DUPLICATE_CHARGE:
        return frozenset({"refund"}), "charged twice"
    if t is ExceptionType.REFUND_PENDING:
        return frozenset({"contact_customer", "support_handoff"}), "refund under way"
    if t in (ExceptionType.INVENTORY_SHORTFALL, ExceptionType.SUBSTITUTION_NEEDED):
        if substitutable:
            return frozenset({"substitute"}), "a same-category SKU is in stock"
        return frozenset({"cancel_line", "contact_customer"}), "nothing to substitute"
    if t is ExceptionType.SHIPMENT_LATE:
        if f.delivered_at is not None:
            return frozenset({"store_credit", "contact_customer"}), "delivered late"
        if late > LATE_DAYS:
            if f.tier == "vip":
                return frozenset({"reship"}), "VIP, long overdue"
            return frozenset({"reship", "refund"}), "long overdue"
        return frozenset({"contact_customer", "shipping_upgrade"}), "slightly late"
    if t in (ExceptionType.SHIPMENT_DELAY_PREDICTED, ExceptionType.PRE_DISPATCH_DELAY):
        return frozenset({"contact_customer", "shipping_upgrade"}), "warn or speed up"
    if t is ExceptionType.CARRIER_EXCEPTION:
        if f.address_failed:
            return frozenset({"request_address_correction"}), "address failure"
        return frozenset({"reship", "support_handoff", "contact_customer"}), "carrier problem"
    if t is ExceptionType.ADDRESS_PROBLEM:
        return frozenset({"request_address_correction"}), "address to correct"
    if t is ExceptionType.STUCK_ORDER:
        return frozenset({"support_handoff", "release_fulfillment"}), "unstick"
    if t is ExceptionType.PARTIAL_FULFILLMENT_OVERDUE:
        return frozenset({"cancel_line", "reship", "contact_customer"}), "rest overdue"
    if t is ExceptionType.CUSTOMER_CHASING:
        return frozenset({"contact_customer", "support_handoff"}), "answer the customer"
    return frozenset({"support_handoff"}), "operations must look"


def derive_resolutions(
    events: Sequence[Mapping[str, Any]], labels: Iterable[Label], *, decide_at: datetime
) -> list[Resolution]:
    """One ``Resolution`` per label, judged on the events known at ``decide_at``.

    The desk works a case after it opens, so the truth is judged when the decision is
    taken (the end of the observed window in the evaluation), not when the label fired.
    """
    facts, stock, prices = _fold(events, decide_at)
    out: list[Resolution] = []
    for label in labels:
        f = facts.get(label.order_ref, _Facts())
        acceptable, why = acceptable_for(
            label, f, substitutable=_substitutable(f, stock, prices), decide_at=decide_at
        )
        out.append(Resolution(label, acceptable, why))
    return out
