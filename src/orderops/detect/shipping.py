"""Shipping exceptions: late, not yet scanned, carrier trouble, address trouble, split
orders whose remainder has not left.

Each rule reads the moments the projector keeps (label bought, first carrier scan,
delivery) so a sweep after a backfill sees when a deadline was crossed and whether the
parcel has moved since.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from orderops.detect.stock import line_location, shipped_from
from orderops.detect.thresholds import DEFAULTS
from orderops.detect.ticket_requests import asked_at, handed_over_at, requests
from orderops.detect.verdict import Thresholds, Verdict, clear, hours, quiet
from orderops.domain.cases import ExceptionType
from orderops.domain.facts import OrderSnapshot, ShipmentFact
from orderops.domain.statuses import OWES_DELIVERY, TrackingStatus
from orderops.domain.ticket_classes import TicketClass

T = ExceptionType


def _settings(kind: ExceptionType, given: Thresholds | None) -> dict[str, float]:
    return {**DEFAULTS[kind], **(given or {})}


class ShipmentLateDetector:
    exception_type = T.SHIPMENT_LATE
    opens_on_events = False

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        grace = timedelta(hours=_settings(self.exception_type, thresholds)["grace_hours"])
        promised = order.promised_by
        delivered = order.delivered_at
        if delivered is not None:
            late_by = (delivered - promised) if promised else None
            reason = "delivered"
            if late_by is not None and late_by.total_seconds() > 0:
                reason = f"delivered {hours(late_by.total_seconds())} after the promise"
            cleared = clear(self.exception_type, reason)
        else:
            cleared = quiet(self.exception_type)
        owes = not order.cancelled and order.financial_status in OWES_DELIVERY
        deadline = promised + grace if promised is not None else None
        if (
            deadline is None
            or deadline >= now
            or not owes
            or (delivered is not None and delivered <= deadline)
        ):
            if deadline is not None and owes and delivered is None and deadline >= now:
                return quiet(self.exception_type, recheck_at=deadline)
            return cleared
        last_scan = max(order.shipments, key=lambda s: s.status_at, default=None)
        where = (
            f"last scan {last_scan.status} at {last_scan.last_location or 'unknown location'}"
            if last_scan
            else "no shipment yet"
        )
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=cleared.cleared,
            clear_reason=cleared.clear_reason,
            summary=(
                f"Order {order.label} was promised by {promised:%Y-%m-%d %H:%M} UTC "
                f"and is not delivered ({where})"
            ),
            evidence_key=f"promise:{promised.isoformat()}" if promised else "",
            detected_at=deadline,
            time_based=True,
            facts={
                "promised_by": promised.isoformat() if promised else None,
                "delivered_at": delivered.isoformat() if delivered else None,
                "carrier": last_scan.carrier if last_scan else None,
                "tracking_number": last_scan.tracking_number if last_scan else None,
                "last_status": last_scan.status if last_scan else None,
                "total_minor": order.total_minor,
                "currency": order.currency,
            },
        )


class PreDispatchDelayDetector:
    """A label was bought but the carrier has not scanned the parcel within the threshold."""

    exception_type = T.PRE_DISPATCH_DELAY
    opens_on_events = False

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        limit = timedelta(hours=_settings(self.exception_type, thresholds)["first_scan_hours"])
        overdue: list[tuple[datetime, ShipmentFact]] = []
        recheck: datetime | None = None
        for shipment in order.shipments:
            if shipment.label_at is None:
                continue
            due = shipment.label_at + limit
            if due <= (shipment.first_scan_at or now):
                overdue.append((due, shipment))
            elif shipment.first_scan_at is None:
                recheck = due if recheck is None else min(recheck, due)
        if not overdue:
            if order.shipments and all(s.first_scan_at for s in order.shipments):
                return clear(self.exception_type, "the carrier scanned the parcel")
            if order.cancelled:
                return clear(self.exception_type, "order cancelled")
            return quiet(self.exception_type, recheck_at=recheck)
        at, shipment = min(overdue, key=lambda pair: pair[0])
        waiting = [s for _, s in overdue if s.first_scan_at is None]
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=not waiting,
            clear_reason="" if waiting else "the carrier scanned the parcel",
            summary=(
                f"{shipment.carrier} {shipment.tracking_number} for order {order.label} has "
                f"had a label for over {hours(limit.total_seconds())} without a carrier scan"
            ),
            evidence_key=f"nodispatch:{shipment.tracking_number}",
            detected_at=at,
            time_based=True,
            facts={
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
                "label_at": shipment.label_at.isoformat() if shipment.label_at else None,
            },
        )


TROUBLE = frozenset(
    {
        TrackingStatus.FAILED_ATTEMPT,
        TrackingStatus.RETURN_TO_SENDER,
        TrackingStatus.LOST,
        TrackingStatus.EXCEPTION,
    }
)


class CarrierExceptionDetector:
    """The carrier reports trouble, or a parcel waits at a pickup point too long."""

    exception_type = T.CARRIER_EXCEPTION
    opens_on_events = True

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        pickup = timedelta(days=_settings(self.exception_type, thresholds)["pickup_days"])
        troubled = [s for s in order.shipments if s.status in TROUBLE]
        waiting = [s for s in order.shipments if s.status == TrackingStatus.AVAILABLE_FOR_PICKUP]
        stale = [s for s in waiting if s.status_at + pickup <= now]
        if troubled:
            shipment = max(troubled, key=lambda s: s.status_at)
            return self._detected(order, shipment, shipment.status_at, time_based=False)
        if stale:
            shipment = min(stale, key=lambda s: s.status_at)
            return self._detected(order, shipment, shipment.status_at + pickup, time_based=True)
        if order.shipments:
            recheck = min((s.status_at + pickup for s in waiting), default=None)
            if recheck is not None:
                return quiet(self.exception_type, recheck_at=recheck)
            latest = max(order.shipments, key=lambda s: s.status_at)
            return clear(self.exception_type, f"parcel {latest.status.replace('_', ' ')}")
        return quiet(self.exception_type)

    def _detected(
        self, order: OrderSnapshot, shipment: ShipmentFact, at: datetime, *, time_based: bool
    ) -> Verdict:
        what = shipment.status.replace("_", " ")
        message = f": {shipment.last_message}" if shipment.last_message else ""
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=False,
            summary=f"{shipment.carrier} reports {what} for order {order.label}{message}",
            evidence_key=f"carrier:{shipment.tracking_number}:{shipment.status}:{shipment.status_at.isoformat()}",
            detected_at=at,
            time_based=time_based,
            facts={
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
                "status": shipment.status,
                "message": shipment.last_message,
                "location": shipment.last_location,
            },
        )


ADDRESS_TROUBLE = re.compile(
    r"\baddress\b.*\b(invalid|incorrect|missing|undeliverable|insufficient|unknown|required)\b"
    r"|\b(invalid|incorrect|insufficient|undeliverable|unknown|bad)\b.*\baddress\b",
    re.IGNORECASE,
)
REQUIRED_ADDRESS_FIELDS = ("line1", "city", "postal_code", "country")


def missing_address_fields(ship_to: object) -> list[str]:
    """Blank required fields of a street address; [] for anything that is not one.

    Only an address that carries a street line (even a blank one) is judged: sources that
    send just a country or a city for routing are not claiming a deliverable address.
    """
    if not isinstance(ship_to, dict) or ship_to.get("line1") is None:
        return []
    return [name for name in REQUIRED_ADDRESS_FIELDS if not str(ship_to.get(name) or "").strip()]


class AddressProblemDetector:
    """The carrier says the address is wrong, the order lacks a deliverable address, or the
    customer asked (a confident ``address_change`` ticket) to change it before any carrier
    scanned a parcel. Asked after the first scan, the parcel needs a redirect with the
    carrier, not a new address on the order: nothing opens for the request then."""

    exception_type = T.ADDRESS_PROBLEM
    opens_on_events = True

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        flagged = [
            s
            for s in order.shipments
            if s.last_message and ADDRESS_TROUBLE.search(s.last_message) and s.delivered_at is None
        ]
        missing = missing_address_fields(order.ship_to) if order.ship_to is not None else []
        if order.cancelled:
            return clear(self.exception_type, "order cancelled")
        if flagged:
            shipment = max(flagged, key=lambda s: s.status_at)
            return Verdict(
                exception_type=self.exception_type,
                detected=True,
                cleared=False,
                summary=(
                    f"{shipment.carrier} cannot deliver order {order.label}: "
                    f"{shipment.last_message}"
                ),
                evidence_key=f"address:{shipment.tracking_number}:{shipment.status_at.isoformat()}",
                detected_at=shipment.status_at,
                facts={"carrier": shipment.carrier, "message": shipment.last_message},
            )
        if missing and order.delivered_at is None:
            return Verdict(
                exception_type=self.exception_type,
                detected=True,
                cleared=False,
                summary=(
                    f"Order {order.label} has no deliverable address: missing {', '.join(missing)}"
                ),
                evidence_key="address:missing:" + ",".join(missing),
                detected_at=order.placed_at,
                facts={"missing": missing},
            )
        asked = self._change_asked(order, thresholds)
        if asked is not None:
            return asked
        return clear(
            self.exception_type, "delivered" if order.delivered_at else "address is complete"
        )

    def _change_asked(self, order: OrderSnapshot, thresholds: Thresholds | None) -> Verdict | None:
        settings = {**DEFAULTS[self.exception_type], **(thresholds or {})}
        asks = requests(
            order,
            TicketClass.ADDRESS_CHANGE,
            min_confidence=settings["change_request_min_confidence"],
        )
        if not asks:
            return None
        ticket = asks[0]
        at = asked_at(ticket)
        scans = sorted(s for s in map(handed_over_at, order.shipments) if s is not None)
        if scans and scans[0] <= at:
            return None
        confidence = ticket.ticket_class_confidence or 0.0
        verdict = Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=False,
            summary=(
                f"The customer asked to change the delivery address of order {order.label} "
                f"(ticket {ticket.ticket_ref}, classifier confidence {confidence:.2f}) "
                "before it shipped"
            ),
            evidence_key=f"address_change:{ticket.ticket_ref}",
            detected_at=at,
            facts={
                "ticket": ticket.ticket_ref,
                "ticket_class": str(TicketClass.ADDRESS_CHANGE),
                "confidence": round(confidence, 3),
                "asked_at": at.isoformat(),
            },
        )
        if scans:
            return replace(
                verdict,
                cleared=True,
                clear_reason="shipped before the address was changed: a carrier redirect now",
            )
        return verdict


class PartialFulfillmentOverdueDetector:
    """Some lines left (a shipment from their location), others not within the threshold."""

    exception_type = T.PARTIAL_FULFILLMENT_OVERDUE
    opens_on_events = False

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        limit = timedelta(days=_settings(self.exception_type, thresholds)["remaining_days"])
        locations = {line_location(order, line) for line in order.lines} - {None}
        labels = [s for s in order.shipments if s.origin_location and s.label_at]
        if len(locations) < 2 or not labels:
            return quiet(self.exception_type)
        left_by: dict[str, datetime] = {}
        for s in labels:
            if s.origin_location and s.label_at:
                left_by[s.origin_location] = min(
                    left_by.get(s.origin_location, s.label_at), s.label_at
                )
        first = min(labels, key=lambda s: s.label_at or s.status_at)
        started = min(left_by.values())
        due = started + limit
        late = sorted(loc for loc in locations if loc is not None and left_by.get(loc, now) >= due)
        remaining = [loc for loc in locations if loc not in shipped_from(order)]
        if not late or due > now:
            if order.cancelled or not remaining:
                return clear(
                    self.exception_type,
                    "order cancelled" if order.cancelled else "every line shipped",
                )
            return quiet(self.exception_type, recheck_at=due)
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=order.cancelled or not remaining,
            clear_reason=("order cancelled" if order.cancelled else "every line shipped")
            if order.cancelled or not remaining
            else "",
            summary=(
                f"Order {order.label} shipped partly on {started:%Y-%m-%d}; lines at "
                f"{', '.join(late)} have not left after {hours(limit.total_seconds())}"
            ),
            evidence_key=f"partial:{started.isoformat()}",
            detected_at=due,
            time_based=True,
            facts={"waiting_locations": late, "first_shipment": first.tracking_number},
        )
