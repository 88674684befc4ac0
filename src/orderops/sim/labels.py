"""Ground truth: which orders a perfect desk would open a case for, and when.

Labels are derived from the emitted events alone, with the same rules the desk is
meant to apply, rather than from what the planner injected. So a label exists exactly
when the evidence for it exists inside the observed stream (a failure after ``end``,
or a promise still in the future, gives none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orderops.detect.thresholds import DEFAULTS
from orderops.domain.cases import ExceptionType
from orderops.domain.events import EventType
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.sim.label_rules import extended_labels

GOOD_PAYMENT = frozenset({PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURED})


@dataclass(frozen=True)
class Label:
    type: ExceptionType
    order_ref: str
    at: datetime


class _OrderFacts:
    def __init__(self) -> None:
        self.promised_by: datetime | None = None
        self.payments: dict[str, PaymentStatus] = {}
        self.cancelled = False
        self.cancelled_at: datetime | None = None
        self.declined_at: datetime | None = None
        """The first decline while the order had no good payment."""
        self.good_at: datetime | None = None
        """The first good payment after that decline."""
        self.first_label_at: datetime | None = None
        self.deliveries: dict[str, datetime | None] = {}
        """Per tracking number, its first delivery scan (None while on its way)."""

    @property
    def delivered_at(self) -> datetime | None:
        """Delivered once every parcel is, as the desk's projection counts it."""
        done = list(self.deliveries.values())
        if not done or any(d is None for d in done):
            return None
        return max(d for d in done if d is not None)

    def has_good_payment(self) -> bool:
        return any(status in GOOD_PAYMENT for status in self.payments.values())


def derive_labels(
    events: Iterable[Mapping[str, Any]],
    *,
    end: datetime,
    types: frozenset[ExceptionType] = frozenset(),
) -> list[Label]:
    """Apply the labelling rules to a time-sorted event stream observed up to ``end``.

    - ``payment_failed`` at ``grace_minutes`` (30) after the first failed payment that
      arrives while the order has no authorized or captured payment, unless a good
      payment or the cancellation came within that grace (once per order);
    - ``shipment_late`` at ``promised_by`` for an order not cancelled, holding a good
      payment, whose promise passed before ``end`` with no delivery scan by then;
    - ``shipment_delay_predicted`` at ``promised_by`` for every such late order whose
      label was bought before the promise (what a perfect predictor would have flagged);
    - the other ``types`` by the rules of ``sim.label_rules``.
    """
    events = list(events)
    orders: dict[str, _OrderFacts] = {}
    order_of_tracking: dict[str, str] = {}
    labels: list[Label] = []
    for event in events:
        at = datetime.fromisoformat(event["time"])
        if at > end:
            continue
        kind, data = EventType(event["type"]), event["data"]
        if kind is EventType.ORDER_PLACED:
            facts = orders.setdefault(data["order_ref"], _OrderFacts())
            facts.promised_by = datetime.fromisoformat(data["promised_by"])
        elif kind is EventType.ORDER_CANCELLED:
            facts = orders.setdefault(data["order_ref"], _OrderFacts())
            facts.cancelled = True
            facts.cancelled_at = facts.cancelled_at or at
        elif kind is EventType.PAYMENT_UPDATED:
            ref = data["order_ref"]
            facts = orders.setdefault(ref, _OrderFacts())
            status = PaymentStatus(data["status"])
            good_before = facts.has_good_payment()
            if status is PaymentStatus.FAILED and not good_before and facts.declined_at is None:
                facts.declined_at = at
            facts.payments[data["payment_ref"]] = status
            if facts.declined_at is not None and facts.good_at is None and not good_before:
                facts.good_at = at if facts.has_good_payment() else None
        elif kind is EventType.SHIPMENT_CREATED:
            order_of_tracking[data["tracking_number"]] = data["order_ref"]
            facts = orders.setdefault(data["order_ref"], _OrderFacts())
            facts.deliveries.setdefault(data["tracking_number"], None)
            if facts.first_label_at is None:
                facts.first_label_at = at
        elif kind is EventType.SHIPMENT_TRACKING:
            ref = order_of_tracking.get(data["tracking_number"], "")
            facts = orders.setdefault(ref, _OrderFacts())
            number = data["tracking_number"]
            if (
                TrackingStatus(data["status"]) is TrackingStatus.DELIVERED
                and facts.deliveries.get(number) is None
            ):
                facts.deliveries[number] = datetime.fromisoformat(data["occurred_at"])
    grace = timedelta(minutes=DEFAULTS[ExceptionType.PAYMENT_FAILED]["grace_minutes"])
    for ref, facts in orders.items():
        if facts.declined_at is not None:
            due = facts.declined_at + grace
            settled = [t for t in (facts.good_at, facts.cancelled_at) if t is not None]
            if due <= end and not any(t <= due for t in settled):
                labels.append(Label(ExceptionType.PAYMENT_FAILED, ref, due))
        promised = facts.promised_by
        if promised is None or promised >= end or facts.cancelled or not facts.has_good_payment():
            continue
        if facts.delivered_at is None or facts.delivered_at > promised:
            labels.append(Label(ExceptionType.SHIPMENT_LATE, ref, promised))
            predicted = ExceptionType.SHIPMENT_DELAY_PREDICTED
            if predicted in types and facts.first_label_at and facts.first_label_at < promised:
                labels.append(Label(predicted, ref, promised))
    labels += [
        Label(kind, ref, at)
        for kind, ref, at in extended_labels(events, end=end, types=types)
        if kind is not ExceptionType.SHIPMENT_DELAY_PREDICTED
    ]
    return sorted(labels, key=lambda label: (label.at, label.type.value, label.order_ref))
