"""Ground truth: which orders a perfect desk would open a case for, and when.

Labels are derived from the emitted events alone, with the same rules the desk is
meant to apply, rather than from what the planner injected. So a label exists exactly
when the evidence for it exists inside the observed stream (a failure after ``end``,
or a promise still in the future, gives none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orderops.domain.cases import ExceptionType
from orderops.domain.events import EventType
from orderops.domain.statuses import PaymentStatus, TrackingStatus

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
        self.delivered_at: datetime | None = None

    def has_good_payment(self) -> bool:
        return any(status in GOOD_PAYMENT for status in self.payments.values())


def derive_labels(events: Iterable[Mapping[str, Any]], *, end: datetime) -> list[Label]:
    """Apply the labelling rules to a time-sorted event stream observed up to ``end``.

    - ``payment_failed`` at the time of a failed payment that arrives while the order
      has no authorized or captured payment (once per order);
    - ``shipment_late`` at ``promised_by`` for an order not cancelled, holding a good
      payment, whose promise passed before ``end`` with no delivery scan by then.
    """
    orders: dict[str, _OrderFacts] = {}
    order_of_tracking: dict[str, str] = {}
    labels: list[Label] = []
    failed: set[str] = set()
    for event in events:
        at = datetime.fromisoformat(event["time"])
        if at > end:
            continue
        kind, data = EventType(event["type"]), event["data"]
        if kind is EventType.ORDER_PLACED:
            facts = orders.setdefault(data["order_ref"], _OrderFacts())
            facts.promised_by = datetime.fromisoformat(data["promised_by"])
        elif kind is EventType.ORDER_CANCELLED:
            orders.setdefault(data["order_ref"], _OrderFacts()).cancelled = True
        elif kind is EventType.PAYMENT_UPDATED:
            ref = data["order_ref"]
            facts = orders.setdefault(ref, _OrderFacts())
            status = PaymentStatus(data["status"])
            if (
                status is PaymentStatus.FAILED
                and not facts.has_good_payment()
                and ref not in failed
            ):
                failed.add(ref)
                labels.append(Label(ExceptionType.PAYMENT_FAILED, ref, at))
            facts.payments[data["payment_ref"]] = status
        elif kind is EventType.SHIPMENT_CREATED:
            order_of_tracking[data["tracking_number"]] = data["order_ref"]
        elif kind is EventType.SHIPMENT_TRACKING:
            ref = order_of_tracking.get(data["tracking_number"], "")
            facts = orders.setdefault(ref, _OrderFacts())
            if (
                TrackingStatus(data["status"]) is TrackingStatus.DELIVERED
                and facts.delivered_at is None
            ):
                facts.delivered_at = datetime.fromisoformat(data["occurred_at"])
    for ref, facts in orders.items():
        promised = facts.promised_by
        if promised is None or promised >= end or facts.cancelled or not facts.has_good_payment():
            continue
        if facts.delivered_at is None or facts.delivered_at > promised:
            labels.append(Label(ExceptionType.SHIPMENT_LATE, ref, promised))
    return sorted(labels, key=lambda label: (label.at, label.type.value, label.order_ref))
