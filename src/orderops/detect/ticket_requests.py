"""Exceptions a customer's ticket raises by itself: a cancel request on an unshipped order.

The ticket classifier (``detect/ticket_classes.py``) stores a class and confidence on
every ticket as it is projected; this detector reads them from the order's tickets.
Only a ``cancel_request`` at or above ``min_confidence`` (0.75 by default, per tenant
through the policy) counts: a less sure verdict was already stored as ``other`` or is
ignored here, so an unsure model opens nothing and proposes nothing.

"Unshipped" means no carrier has scanned a parcel of the order when the customer asked
(a label bought but not scanned can still be voided). Asked after the first scan, the
order is a return, not this exception: nothing opens. The case clears when the order is
cancelled ("cancelled as asked") or when a parcel is scanned after the request ("shipped
before it was cancelled": the reviewer now needs a return, not a cancellation).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from orderops.detect.thresholds import DEFAULTS
from orderops.detect.verdict import Thresholds, Verdict, quiet
from orderops.domain.cases import ExceptionType
from orderops.domain.facts import OrderSnapshot, ShipmentFact, TicketFact
from orderops.domain.ticket_classes import TicketClass


def handed_over_at(shipment: ShipmentFact) -> datetime | None:
    """When the carrier first had the parcel (its first scan, else its delivery)."""
    return shipment.first_scan_at or shipment.delivered_at


def asked_at(ticket: TicketFact) -> datetime:
    """When the customer asked: the ticket's opening (a later status change, such as
    solving it, does not move the request)."""
    return ticket.opened_at


def requests(
    order: OrderSnapshot, wanted: TicketClass, *, min_confidence: float
) -> list[TicketFact]:
    """The order's tickets classed ``wanted`` at or above ``min_confidence``, oldest first."""
    found = [
        t
        for t in order.tickets
        if t.ticket_class == wanted and (t.ticket_class_confidence or 0.0) >= min_confidence
    ]
    return sorted(found, key=asked_at)


class CancelRequestedDetector:
    exception_type = ExceptionType.CANCEL_REQUESTED
    opens_on_events = True

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        settings = {**DEFAULTS[self.exception_type], **(thresholds or {})}
        asks = requests(
            order, TicketClass.CANCEL_REQUEST, min_confidence=settings["min_confidence"]
        )
        if not asks:
            return quiet(self.exception_type)
        ticket = asks[0]
        at = asked_at(ticket)
        if order.cancelled and (order.cancelled_at is None or order.cancelled_at <= at):
            return quiet(self.exception_type)
        scans = sorted(s for s in map(handed_over_at, order.shipments) if s is not None)
        if scans and scans[0] <= at:
            return quiet(self.exception_type)
        confidence = ticket.ticket_class_confidence or 0.0
        labels = [s.tracking_number for s in order.shipments if s.label_at is not None]
        facts = {
            "ticket": ticket.ticket_ref,
            "ticket_class": str(TicketClass.CANCEL_REQUEST),
            "confidence": round(confidence, 3),
            "asked_at": at.isoformat(),
            "labels_to_void": labels,
        }
        summary = (
            f"The customer asked to cancel order {order.label} (ticket {ticket.ticket_ref}, "
            f"classifier confidence {confidence:.2f}) before it shipped"
        )
        verdict = Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=False,
            summary=summary,
            evidence_key=f"cancel_request:{ticket.ticket_ref}",
            facts=facts,
            detected_at=at,
        )
        if order.cancelled:
            return replace(verdict, cleared=True, clear_reason="cancelled as the customer asked")
        if scans:
            return replace(
                verdict,
                cleared=True,
                clear_reason="shipped before it was cancelled: a return now, not a cancellation",
            )
        return verdict
