"""The one door to the ticket classifier: ``ticket_classifier_for(session, tenant_id)``.

Every caller that classifies a ticket (the projector as tickets arrive, the evaluation,
the console) asks here, so the model a tenant gets is decided in one place: the tenant's
promoted ``ticket_class`` version from the registry (``orderops models promote --kind
ticket_class``), else the shipped default (``models/shipped/ticket_class.skops``, trained
on the project's own multilingual seed texts).

Asking costs one small indexed query for the promoted version's id; its bytes are read
and loaded only when that version is new to this process (models are cached by their
bytes' hash). A promoted version that cannot be loaded is logged and the shipped default
classifies instead, so a damaged model never stops tickets from being projected.
"""

from __future__ import annotations

import logging
import threading
from functools import cache

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from orderops.detect.model_registry import artifact_of, promoted_version
from orderops.detect.models.ticket_classifier import (
    TicketClassifier,
    load_ticket_classifier,
    ticket_classifier_from_bytes,
    ticket_text,
)
from orderops.detect.models.ticket_training import SHIPPED_MODEL_PATH
from orderops.domain.model_lifecycle import ModelKind
from orderops.domain.ticket_classes import TicketVerdict

log = logging.getLogger(__name__)

CACHE_SIZE = 32
_lock = threading.Lock()
_models: dict[str, TicketClassifier] = {}


@cache
def shipped_ticket_classifier() -> TicketClassifier:
    """The default model, read once per process (a file of about 300 kB)."""
    return load_ticket_classifier(SHIPPED_MODEL_PATH)


def ticket_classifier_for(session: Session | Connection, tenant_id: str) -> TicketClassifier:
    """The classifier that judges ``tenant_id``'s tickets: promoted, else shipped."""
    current = promoted_version(session, tenant_id, ModelKind.TICKET_CLASS)
    if current is None:
        return shipped_ticket_classifier()
    with _lock:
        model = _models.get(current.artifact_sha256)
    if model is not None:
        return model
    try:
        data = artifact_of(session, tenant_id, current.id)
        model = ticket_classifier_from_bytes(data, origin=current.label)
    except Exception:  # any failure to load falls back to the default, logged
        log.exception(
            "tenant %s: %s cannot be loaded; classifying with the shipped default",
            tenant_id,
            current.label,
        )
        return shipped_ticket_classifier()
    with _lock:
        if len(_models) >= CACHE_SIZE:
            _models.pop(next(iter(_models)))
        _models[current.artifact_sha256] = model
    return model


def classify_ticket(
    session: Session | Connection, tenant_id: str, *, subject: str | None, body: str | None
) -> TicketVerdict:
    """The verdict on one ticket's subject and body, through the tenant's classifier."""
    return ticket_classifier_for(session, tenant_id).classify(ticket_text(subject, body))
