"""A ticket's class, stored with the ticket as it is projected.

The projector calls this whenever a ticket's subject or body changes (and for a ticket
stored before classification existed), so every ticket, whatever door it came in by
(Zendesk webhook, canonical events, an import), carries the classifier's verdict. The
verdict is a fact about the text, not a decision: detectors and routing read it, and a
verdict below its confidence floor is already ``other`` here. A class a person set
(``label_tickets``) stands: the projector never reclassifies that ticket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from orderops.detect.ticket_classes import classify_ticket
from orderops.domain.ticket_classes import REVIEWER_LABEL, TicketClass
from orderops.storage.tables import SupportTicket
from orderops.storage.uow import UnitOfWork

REVIEWER = REVIEWER_LABEL


def classify_stored_ticket(uow: UnitOfWork, ticket: SupportTicket) -> None:
    if ticket.ticket_class_model == REVIEWER:
        return
    verdict = classify_ticket(uow.session, uow.tenant_id, subject=ticket.subject, body=ticket.body)
    ticket.ticket_class = str(verdict.ticket_class)
    ticket.ticket_class_confidence = verdict.confidence
    ticket.ticket_class_model = verdict.model


@dataclass(frozen=True)
class OrderTicketClass:
    """What the customer's latest classified ticket about an order asks for."""

    ticket_ref: str
    ticket_class: str
    confidence: float | None
    model: str | None
    opened_at: datetime


def latest_ticket_class(uow: UnitOfWork, order_ref: str) -> OrderTicketClass | None:
    """The newest classified ticket of the order (None when it has none)."""
    ticket = uow.session.scalar(
        select(SupportTicket)
        .where(
            SupportTicket.tenant_id == uow.tenant_id,
            SupportTicket.order_ref == order_ref,
            SupportTicket.ticket_class.is_not(None),
        )
        .order_by(SupportTicket.opened_at.desc(), SupportTicket.id.desc())
        .limit(1)
    )
    if ticket is None or ticket.ticket_class is None:
        return None
    return OrderTicketClass(
        ticket_ref=ticket.ticket_ref,
        ticket_class=ticket.ticket_class,
        confidence=ticket.ticket_class_confidence,
        model=ticket.ticket_class_model,
        opened_at=ticket.opened_at,
    )


@dataclass(frozen=True)
class TicketLabel:
    """A person's class for one ticket, as a helpdesk export or a reviewer gives it."""

    ticket_ref: str
    ticket_class: TicketClass
    source: str | None = None
    """The ticket's source (``zendesk``); None matches the ref in any source."""


@dataclass(frozen=True)
class LabelOutcome:
    labelled: int
    unchanged: int
    unknown: tuple[str, ...]
    """Refs no ticket of the tenant carries (left out, nothing changed for them)."""
    ambiguous: tuple[str, ...]
    """Refs more than one source carries: the label must name its source."""


def label_tickets(
    uow: UnitOfWork, labels: Sequence[TicketLabel], *, actor: str, now: datetime
) -> LabelOutcome:
    """Set the class people gave each ticket (``REVIEWER``), one audit record for the lot.

    A label for a ticket the tenant does not have is reported, never created: the class
    belongs to a ticket the desk has seen, whatever tenant the file came from.
    """
    refs = {label.ticket_ref for label in labels}
    found: dict[str, list[SupportTicket]] = {}
    for ticket in uow.session.scalars(
        select(SupportTicket).where(
            SupportTicket.tenant_id == uow.tenant_id, SupportTicket.ticket_ref.in_(refs)
        )
    ):
        found.setdefault(ticket.ticket_ref, []).append(ticket)
    labelled, unchanged = 0, 0
    unknown: list[str] = []
    ambiguous: list[str] = []
    changes: list[dict[str, str | None]] = []
    for label in labels:
        tickets = [t for t in found.get(label.ticket_ref, []) if label.source in (None, t.source)]
        if not tickets:
            unknown.append(label.ticket_ref)
            continue
        if len(tickets) > 1:
            ambiguous.append(label.ticket_ref)
            continue
        (ticket,) = tickets
        new = str(label.ticket_class)
        if ticket.ticket_class == new and ticket.ticket_class_model == REVIEWER:
            unchanged += 1
            continue
        changes.append({"ticket": ticket.id, "from": ticket.ticket_class, "to": new})
        ticket.ticket_class, ticket.ticket_class_confidence = new, 1.0
        ticket.ticket_class_model = REVIEWER
        labelled += 1
    if changes:
        uow.audit.append(
            at=now,
            actor=actor,
            action="tickets.labelled",
            entity_type="support_ticket",
            entity_id=changes[0]["ticket"] or "",
            data={"count": len(changes), "changes": changes[:500]},
        )
    return LabelOutcome(labelled, unchanged, tuple(unknown), tuple(ambiguous))
