"""Order-level exceptions: an order stuck in a state past that state's time, and a
customer chasing the same order again and again.

Stuck is judged per state, each with its own deadline (``STATE_SLAS``):

- ``awaiting_payment``: placed, and no payment reported an outcome (held, taken,
  declined or voided; a checkout still pending is none) within ``awaiting_payment_hours``;
- ``awaiting_fulfillment``: money held or taken, and nothing handed to a carrier by the
  handling deadline of the policy's promise window (``OrderSnapshot.handling_due``), or,
  when no window applies (or the money came after that deadline), within
  ``awaiting_fulfillment_hours`` of the payment.

Two other stalls are deliberately not judged here, one case per root cause: a label
bought but never scanned is ``pre_dispatch_delay``'s, and "fulfilled without a label"
cannot be seen at all, because a fulfillment without a tracking number maps to no
event (nothing a carrier could follow) and every shipment the desk holds has one.

An order has one stuck case: its facts name the state. A later state that comes due
after an earlier one was resolved reopens it with the new state. A cancelled order is
never stuck from its cancellation on: cancelled before a deadline it opens nothing, and
one that sat past a deadline before it was cancelled opens already resolved, so a sweep
that runs late sees what a sweep on time saw.

Chasing counts tickets linked to the order opened inside a sliding window (``tickets``
within ``window_hours``, both per tenant through its policy), so the answer does not
depend on when the rule happens to run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from orderops.detect.thresholds import DEFAULTS
from orderops.detect.verdict import Thresholds, Verdict, hours, quiet
from orderops.domain.cases import ExceptionType
from orderops.domain.facts import OrderSnapshot

T = ExceptionType

STATE_SLAS = {
    "awaiting_payment": "awaiting_payment_hours",
    "awaiting_fulfillment": "awaiting_fulfillment_hours",
}
"""Order state -> the threshold holding its time in hours (awaiting fulfillment uses the
policy's handling deadline instead when the order has one)."""

CLOSED_TICKETS = frozenset({"solved", "closed"})


def _settings(kind: ExceptionType, given: Thresholds | None) -> dict[str, float]:
    return {**DEFAULTS[kind], **(given or {})}


@dataclass(frozen=True)
class _Stage:
    """One state the order sat in: when it had to have moved on, and when it did."""

    state: str
    due: datetime
    left_at: datetime | None
    left_why: str
    summary: str
    facts: dict[str, Any]


def _left(*moments: tuple[datetime | None, str]) -> tuple[datetime | None, str]:
    known = [(at, why) for at, why in moments if at is not None]
    return min(known, key=lambda m: m[0], default=(None, ""))


def _stages(order: OrderSnapshot, settings: dict[str, float]) -> list[_Stage]:
    """The states the order has entered so far, in lifecycle order."""
    cancelled = (order.cancelled_at or order.placed_at) if order.cancelled else None
    payments = [p for p in order.payments if not p.refund_record]
    sla = timedelta(hours=settings["awaiting_payment_hours"])
    reported = min((t for p in payments if (t := p.outcome_at) is not None), default=None)
    left_at, why = _left((reported, "payment reported"), (cancelled, "order cancelled"))
    stages = [
        _Stage(
            state="awaiting_payment",
            due=order.placed_at + sla,
            left_at=left_at,
            left_why=why,
            summary=(
                f"Order {order.label} has waited over {hours(sla.total_seconds())} for any "
                "payment outcome"
            ),
            facts={"state": "awaiting_payment", "sla_hours": sla.total_seconds() / 3600},
        )
    ]
    paid_at = min((t for p in payments if (t := p.good_at) is not None), default=None)
    if paid_at is None:
        return stages
    stages.append(_awaiting_fulfillment(order, settings, paid_at=paid_at, cancelled=cancelled))
    return stages


def _awaiting_fulfillment(
    order: OrderSnapshot,
    settings: dict[str, float],
    *,
    paid_at: datetime,
    cancelled: datetime | None,
) -> _Stage:
    handed = min((s.label_at or s.status_at for s in order.shipments), default=None)
    left_at, why = _left(
        (handed, "handed to the carrier"),
        (order.delivered_at, "delivered"),
        (cancelled, "order cancelled"),
    )
    fallback = timedelta(hours=settings["awaiting_fulfillment_hours"])
    policy_due = order.handling_due
    if policy_due is not None and paid_at <= policy_due:
        due, rule = policy_due, "the policy's handling deadline"
    else:
        due, rule = paid_at + fallback, f"{hours(fallback.total_seconds())} of payment"
    holds = [h for h in order.holds if h.held_at is not None and h.held_at <= due]
    on_hold = [h for h in holds if h.released_at is None or h.released_at > due]
    held = ""
    if on_hold:
        reasons = sorted({r for h in on_hold for r in h.reasons}) or ["no reason given"]
        held = f"; its fulfillment is on hold ({', '.join(reasons)})"
    return _Stage(
        state="awaiting_fulfillment",
        due=due,
        left_at=left_at,
        left_why=why,
        summary=(
            f"Order {order.label} was paid {paid_at:%Y-%m-%d %H:%M} UTC and nothing was handed "
            f"to a carrier within {rule} ({due:%Y-%m-%d %H:%M} UTC){held}"
        ),
        facts={
            "state": "awaiting_fulfillment",
            "paid_at": paid_at.isoformat(),
            "due_at": due.isoformat(),
            "deadline": "policy" if due == policy_due else "threshold",
            "sla_hours": None if due == policy_due else fallback.total_seconds() / 3600,
            "holds": [
                {"fulfillment_order": h.fulfillment_order_ref, "reasons": list(h.reasons)}
                for h in on_hold
            ],
        },
    )


class StuckOrderDetector:
    exception_type = T.STUCK_ORDER
    opens_on_events = False

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        stages = _stages(order, _settings(self.exception_type, thresholds))
        crossed = [s for s in stages if s.due <= min(s.left_at or now, now)]
        waiting = [s.due for s in stages if s.left_at is None and s.due > now]
        recheck = min(waiting, default=None)
        if not crossed:
            moved = [s for s in stages if s.left_at is not None]
            if moved:
                last = moved[-1]
                return Verdict(
                    exception_type=self.exception_type,
                    detected=False,
                    cleared=True,
                    clear_reason=last.left_why,
                    recheck_at=recheck,
                )
            return quiet(self.exception_type, recheck_at=recheck)
        stage = crossed[-1]
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=stage.left_at is not None,
            clear_reason=stage.left_why,
            summary=stage.summary,
            evidence_key=f"stuck:{stage.state}",
            detected_at=stage.due,
            time_based=True,
            recheck_at=recheck,
            facts=stage.facts,
        )


class CustomerChasingDetector:
    """``tickets`` or more tickets about one order opened within ``window_hours``."""

    exception_type = T.CUSTOMER_CHASING
    opens_on_events = True

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        settings = _settings(self.exception_type, thresholds)
        needed = max(1, int(settings["tickets"]))
        window = timedelta(hours=settings["window_hours"])
        opened = sorted(t.opened_at for t in order.tickets)
        at = first_crowded(opened, needed, window)
        if at is None:
            return quiet(self.exception_type)
        if all(t.status in CLOSED_TICKETS for t in order.tickets):
            return Verdict(
                exception_type=self.exception_type,
                detected=True,
                cleared=True,
                clear_reason="every ticket solved",
                summary=f"The customer contacted us {len(opened)} times about order {order.label}",
                evidence_key=f"chasing:{len(opened)}",
                detected_at=at,
            )
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=False,
            summary=(
                f"The customer contacted us {len(opened)} times about order {order.label} "
                f"({needed} within {hours(window.total_seconds())})"
            ),
            evidence_key=f"chasing:{len(opened)}",
            detected_at=at,
            facts={"tickets": [t.ticket_ref for t in order.tickets], "count": len(opened)},
        )


def first_crowded(times: list[datetime], needed: int, window: timedelta) -> datetime | None:
    """The first time at which ``needed`` of ``times`` (sorted) fall within ``window``."""
    for i in range(needed - 1, len(times)):
        if times[i] - times[i - needed + 1] <= window:
            return times[i]
    return None
