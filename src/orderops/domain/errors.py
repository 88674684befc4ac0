"""One exception hierarchy, so shells can map domain failures to clear answers.

Each error carries a stable ``code`` that the API puts in its problem+json ``type``
and that tests and clients can match on without parsing messages.
"""

from __future__ import annotations


class OrderOpsError(Exception):
    """Base of every error the domain or application services raise on purpose."""

    code = "orderops-error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidEvent(OrderOpsError):
    """The payload is not a canonical event we can accept (shape, type or size)."""

    code = "invalid-event"


class MalformedPayload(InvalidEvent):
    """The body is not even JSON; nothing in it could be read."""

    code = "malformed-payload"


class PayloadTooLarge(InvalidEvent):
    code = "payload-too-large"


class DuplicateEvent(OrderOpsError):
    """The same (tenant, source, id) was seen before; the first delivery is the one kept."""

    code = "duplicate-event"


class NotFound(OrderOpsError):
    code = "not-found"


class IllegalTransition(OrderOpsError):
    """A case was asked to move to a status its current status does not allow."""

    code = "illegal-transition"


class CaseAlreadyOpen(OrderOpsError):
    """An open case for this order and cause exists; signals merge into it instead."""

    code = "case-already-open"

    def __init__(self, message: str, *, case_id: str | None = None) -> None:
        super().__init__(message)
        self.case_id = case_id


class Conflict(OrderOpsError):
    """The request is sound but collides with the current state (a stale version, a
    decision already taken, an effect already queued); the caller should re-read."""

    code = "conflict"


class Unauthorized(OrderOpsError):
    code = "unauthorized"


class Forbidden(OrderOpsError):
    """Authenticated, but the caller's role does not grant this."""

    code = "forbidden"


class ConfigurationError(OrderOpsError):
    code = "configuration-error"
