"""Stock exceptions: an order line the assigned location cannot cover, and one that has
waited so long a substitute should be offered.

A line counts as unshipped while no shipment has left its location. Substitution is
the simple written rule "the shortfall has persisted past ``after_hours``": the
projector keeps when the latest shortfall began and ended, so the rule holds even
when stock arrived before anyone looked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from orderops.detect.thresholds import DEFAULTS
from orderops.detect.verdict import Thresholds, Verdict, clear, hours, quiet
from orderops.domain.cases import ExceptionType
from orderops.domain.facts import LineFact, OrderSnapshot

T = ExceptionType


def line_location(order: OrderSnapshot, line: LineFact) -> str | None:
    return line.location or order.location


def shipped_from(order: OrderSnapshot) -> set[str]:
    return {s.origin_location for s in order.shipments if s.origin_location}


def unshipped_lines(order: OrderSnapshot) -> list[LineFact]:
    """Lines no shipment has taken yet. A line that names no location (Shopify routes it
    to any location with stock) left with the order's first parcel: what is still
    missing after a partial shipment is partial_fulfillment_overdue's to judge."""
    gone = shipped_from(order)
    if order.shipments and not gone:
        return []  # shipped, origin unknown: assume the whole order left
    return [
        line
        for line in order.lines
        if (where := line_location(order, line)) not in gone
        and not (where is None and order.shipments)
    ]


def short_lines(order: OrderSnapshot) -> list[LineFact]:
    return [
        line
        for line in unshipped_lines(order)
        if line.available is not None and line.quantity > line.available
    ]


class InventoryShortfallDetector:
    exception_type = T.INVENTORY_SHORTFALL
    opens_on_events = True

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        if order.cancelled:
            return clear(self.exception_type, "order cancelled")
        short = short_lines(order)
        if not short:
            reason = "stock arrived" if unshipped_lines(order) else "order shipped"
            return clear(self.exception_type, reason)
        first = short[0]
        since = first.short_since or order.placed_at
        where = line_location(order, first)
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=False,
            summary=(
                f"Order {order.label} needs {first.quantity} x {first.sku} at {where}; "
                f"{first.available} available"
            ),
            evidence_key="short:"
            + ",".join(sorted(f"{line.sku}@{line_location(order, line)}" for line in short)),
            detected_at=since,
            facts={
                "lines": [
                    {
                        "sku": line.sku,
                        "location": line_location(order, line),
                        "quantity": line.quantity,
                        "available": line.available,
                    }
                    for line in short
                ]
            },
        )


class SubstitutionNeededDetector:
    exception_type = T.SUBSTITUTION_NEEDED
    opens_on_events = False

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        after = timedelta(
            hours={**DEFAULTS[self.exception_type], **(thresholds or {})}["after_hours"]
        )
        waiting = [line for line in order.lines if line.short_since is not None]
        overdue: list[tuple[datetime, LineFact]] = []
        recheck: datetime | None = None
        for line in waiting:
            assert line.short_since is not None
            due = line.short_since + after
            if due <= (line.short_cleared_at or now):
                overdue.append((due, line))
            elif line.short_cleared_at is None:
                recheck = due if recheck is None else min(recheck, due)
        still_short = bool(short_lines(order))
        if not overdue:
            if order.cancelled or not still_short:
                return clear(
                    self.exception_type, "order cancelled" if order.cancelled else "stock arrived"
                )
            return quiet(self.exception_type, recheck_at=None if order.cancelled else recheck)
        at, line = min(overdue, key=lambda pair: pair[0])
        resolved = order.cancelled or not still_short
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=resolved,
            clear_reason=("order cancelled" if order.cancelled else "stock arrived")
            if resolved
            else "",
            summary=(
                f"{line.sku} for order {order.label} has been short for over "
                f"{hours(after.total_seconds())}: offer a substitute"
            ),
            evidence_key=f"substitute:{line.sku}:{at.isoformat()}",
            detected_at=at,
            time_based=True,
            facts={"sku": line.sku, "quantity": line.quantity, "available": line.available},
        )
