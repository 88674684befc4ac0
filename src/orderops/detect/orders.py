"""Order-level exceptions: an order stuck in a state past that state's SLA, and a
customer chasing the same order again and again.

Stuck is judged per state with its own SLA (``STATE_SLAS``): today the one state the
other detectors do not already watch, an order placed whose payment never reported
any outcome. Chasing counts tickets opened about the order inside a sliding window,
so the answer does not depend on when the rule happens to run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from orderops.detect.thresholds import DEFAULTS
from orderops.detect.verdict import Thresholds, Verdict, clear, hours, quiet
from orderops.domain.cases import ExceptionType
from orderops.domain.facts import OrderSnapshot

T = ExceptionType

STATE_SLAS = {"awaiting_payment": "awaiting_payment_hours"}
"""Order state -> the threshold holding its SLA in hours."""

CLOSED_TICKETS = frozenset({"solved", "closed"})


def _settings(kind: ExceptionType, given: Thresholds | None) -> dict[str, float]:
    return {**DEFAULTS[kind], **(given or {})}


class StuckOrderDetector:
    exception_type = T.STUCK_ORDER
    opens_on_events = False

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        sla = timedelta(hours=_settings(self.exception_type, thresholds)["awaiting_payment_hours"])
        due = order.placed_at + sla
        first_payment = min((p.created_at or p.status_at for p in order.payments), default=None)
        progressed = first_payment or (order.cancelled_at if order.cancelled else None)
        if due > (progressed or now):
            if progressed is not None:
                return clear(self.exception_type, "payment reported")
            return quiet(self.exception_type, recheck_at=due)
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=progressed is not None,
            clear_reason=(
                ("payment reported" if first_payment else "order cancelled") if progressed else ""
            ),
            summary=(
                f"Order {order.label} has waited over {hours(sla.total_seconds())} for any "
                "payment outcome"
            ),
            evidence_key="stuck:awaiting_payment",
            detected_at=due,
            time_based=True,
            facts={"state": "awaiting_payment", "sla_hours": sla.total_seconds() / 3600},
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
