"""The one door to the ticket classifier: ``ticket_classifier_for(tenant_id)``.

Every caller that classifies a ticket (the projector as tickets arrive, the evaluation,
the console) asks here, so the model a tenant gets is decided in one place. Today every
tenant gets the shipped default (``models/shipped/ticket_class.skops``, trained on the
project's own multilingual seed texts); the per-tenant model registry will answer here
first and fall back to that default.
"""

from __future__ import annotations

from functools import cache

from orderops.detect.models.ticket_classifier import (
    TicketClassifier,
    load_ticket_classifier,
    ticket_text,
)
from orderops.detect.models.ticket_training import SHIPPED_MODEL_PATH
from orderops.domain.ticket_classes import TicketVerdict


@cache
def shipped_ticket_classifier() -> TicketClassifier:
    """The default model, read once per process (a file of about 300 kB)."""
    return load_ticket_classifier(SHIPPED_MODEL_PATH)


def ticket_classifier_for(tenant_id: str) -> TicketClassifier:
    """The classifier that judges ``tenant_id``'s tickets (today: the shipped default)."""
    del tenant_id  # the registry (issue #16 item 1) will pick a tenant's promoted model
    return shipped_ticket_classifier()


def classify_ticket(tenant_id: str, *, subject: str | None, body: str | None) -> TicketVerdict:
    """The verdict on one ticket's subject and body, through the tenant's classifier."""
    return ticket_classifier_for(tenant_id).classify(ticket_text(subject, body))
