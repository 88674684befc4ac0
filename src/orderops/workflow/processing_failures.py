"""What becomes of an inbox event that processing keeps refusing: a dead letter.

After ``MAX_ATTEMPTS`` non-transient failures the event's inbox row is marked failed and
a dead letter is written in the same transaction, with the envelope, the last error and
a reason class, so it shows in ``orderops deadletters list`` and ``replay`` can run it
again once the cause is fixed. The reason class is a closed, tenant-free set: it is the
label of the dead-letter counter on ``/metrics`` and the letter's ``reason_code``.
"""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import DBAPIError, IntegrityError

from orderops.domain.errors import InvalidEvent
from orderops.storage.repositories.intake import DeadLetterStatus
from orderops.storage.tables import DeadLetter, InboxEvent
from orderops.storage.transient import sqlstate
from orderops.storage.uow import UnitOfWork

PROCESSING_CHANNEL = "processing"
"""The dead letters' ``channel`` for events that were accepted but could not be processed."""


class FailureClass(StrEnum):
    INVALID_EVENT = "invalid_event"
    """The stored envelope no longer passes the schema (it was tightened since)."""
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    VALUE_TOO_LONG = "value_too_long"
    CONSTRAINT_VIOLATION = "constraint_violation"
    DATABASE_ERROR = "database_error"
    PROCESSING_ERROR = "processing_error"
    """Anything else: a bug in our code, to be fixed before the replay."""


def failure_class(exc: BaseException) -> FailureClass:
    if isinstance(exc, InvalidEvent):
        return FailureClass.INVALID_EVENT
    if isinstance(exc, IntegrityError):
        return FailureClass.CONSTRAINT_VIOLATION
    if isinstance(exc, DBAPIError):
        state = sqlstate(exc) or ""
        if state == "22003" or "out of range" in str(exc.orig).lower():
            return FailureClass.VALUE_OUT_OF_RANGE
        if state == "22001" or "too long" in str(exc.orig).lower():
            return FailureClass.VALUE_TOO_LONG
        return FailureClass.DATABASE_ERROR
    return FailureClass.PROCESSING_ERROR


def dead_letter_row(
    uow: UnitOfWork, row: InboxEvent, *, failure: FailureClass, now: datetime
) -> DeadLetter:
    """Write (or, after a failed replay, refresh) the open dead letter of a failed row.

    One open letter per inbox row: a replay that fails again updates the letter it came
    from instead of adding a second one for the same event.
    """
    reason = f"processing failed {row.attempts} times; last error: {row.error or '?'}"
    letter = uow.dead_letters.open_for_inbox(row.id)
    if letter is not None:
        letter.reason_code, letter.reason, letter.received_at = failure, reason, now
        return letter
    body = json.dumps(row.envelope, ensure_ascii=False, separators=(",", ":"), default=str)
    return uow.dead_letters.add(
        DeadLetter(
            source=row.source,
            channel=PROCESSING_CHANNEL,
            received_at=now,
            reason_code=failure,
            reason=reason,
            content_type="application/json",
            body=body,
            body_bytes=len(body.encode("utf-8")),
            body_truncated=False,
            status=DeadLetterStatus.OPEN,
            inbox_id=row.id,
        )
    )
