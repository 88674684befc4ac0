"""A ticket's class, stored with the ticket as it is projected.

The projector calls this whenever a ticket's subject or body changes (and for a ticket
stored before classification existed), so every ticket, whatever door it came in by
(Zendesk webhook, canonical events, an import), carries the classifier's verdict. The
verdict is a fact about the text, not a decision: detectors and routing read it, and a
verdict below its confidence floor is already ``other`` here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from orderops.detect.ticket_classes import classify_ticket
from orderops.storage.tables import SupportTicket
from orderops.storage.uow import UnitOfWork


def classify_stored_ticket(tenant_id: str, ticket: SupportTicket) -> None:
    verdict = classify_ticket(tenant_id, subject=ticket.subject, body=ticket.body)
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
