"""Storing many decoded events at once: checked like the intake, written a batch at a time.

The checks and the rows are those of ``intake.accept_items`` (size, envelope, tenant; an
inbox row per event, a dead letter per refusal), but a batch is written with a few
statements (``storage.repositories.inbox_bulk``) instead of a round trip per event.
Nothing is processed here: accepting only stores, and workers (or the caller, through
``workflow.pipeline.process_pending``) apply the pending rows in replay order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import InvalidEvent, PayloadTooLarge
from orderops.domain.usage import Meter
from orderops.ingest import arrivals
from orderops.ingest.envelope import MAX_EVENT_BYTES, parse_event
from orderops.ingest.intake import DEAD_LETTER_BODY_LIMIT
from orderops.metering import usage
from orderops.storage.repositories.inbox_bulk import PendingRow, insert_pending
from orderops.storage.repositories.intake import DeadLetterStatus
from orderops.storage.tables import DeadLetter
from orderops.storage.uow import UnitOfWork

BATCH = 500
"""Events per transaction: large enough that statements stop mattering, small enough
that a crash loses little work and a batch's rows stay a few megabytes."""


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """Input that cannot be accepted, kept as it came with the reason, for its dead letter."""

    code: str
    reason: str
    body: bytes
    body_bytes: int
    """The size of the whole input; ``body`` may be only its head."""
    source: str = "unknown"


@dataclass
class StoreCounts:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def __iadd__(self, other: StoreCounts) -> StoreCounts:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        return self


def check_item(item: Any, *, tenant_id: str, received_at: datetime) -> PendingRow | Refusal:
    """The inbox row ``item`` becomes, or why it cannot be accepted (as the intake decides).

    The intake measures an event in compact UTF-8; the inbox column stores ``json.dumps``
    (ASCII escapes, spaced separators), which is never shorter. So one serialisation, the
    stored one, settles the size of all but the events near the limit, and is kept for
    the insert.
    """
    stored = json.dumps(item, default=str)
    try:
        if len(stored) > MAX_EVENT_BYTES and len(_compact(item)) > MAX_EVENT_BYTES:
            raise PayloadTooLarge(f"event exceeds {MAX_EVENT_BYTES} bytes")
        envelope = parse_event(item, tenant_id=tenant_id).envelope
    except InvalidEvent as exc:
        source = item.get("source") if isinstance(item, dict) else None
        body = _compact(item)
        return Refusal(
            code=exc.code,
            reason=exc.message,
            body=body,
            body_bytes=len(body),
            source=str(source or "unknown"),
        )
    return PendingRow(
        source=envelope.source,
        event_id=envelope.id,
        type=str(envelope.type),
        subject=envelope.subject,
        event_time=envelope.time,
        received_at=received_at,
        envelope=item,
        envelope_json=stored,
    )


def _compact(item: Any) -> bytes:
    """The event as the intake measures and dead-letters it."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def dead_letter(
    refusal: Refusal, *, tenant_id: str, channel: str, received_at: datetime, where: str = ""
) -> DeadLetter:
    """The dead letter of a refusal; ``where`` (a file and row) goes before the reason."""
    kept = refusal.body[:DEAD_LETTER_BODY_LIMIT]
    return DeadLetter(
        tenant_id=tenant_id,
        source=refusal.source[:200],
        channel=channel[:64],
        received_at=received_at,
        reason_code=refusal.code[:64],
        reason=f"{where}: {refusal.reason}" if where else refusal.reason,
        content_type="application/json",
        body=kept.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        body_bytes=refusal.body_bytes,
        body_truncated=len(kept) < refusal.body_bytes,
        status=DeadLetterStatus.OPEN,
    )


def write_batch(
    uow: UnitOfWork,
    rows: Sequence[PendingRow],
    letters: Sequence[DeadLetter],
    *,
    channel: str,
    now: datetime,
) -> StoreCounts:
    """Write a checked batch in the caller's transaction; a repeated event is a duplicate.

    Refused before it writes (``QuotaExceeded``) when the tenant's hard monthly events
    quota is reached (an import stops there, resumable); its accepted events are counted
    once for the batch."""
    usage.hold_to_quota(uow, Meter.EVENTS, now=now)
    uow.session.add_all(letters)
    uow.session.flush()
    inserted = insert_pending(uow.session, uow.tenant_id, rows)
    usage.count(uow, Meter.EVENTS, channel, len(inserted), at=now)
    return StoreCounts(
        accepted=len(inserted), duplicates=len(rows) - len(inserted), rejected=len(letters)
    )


def store_items(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    items: Iterable[Any],
    channel: str,
    clock: Clock,
    batch: int = BATCH,
) -> StoreCounts:
    """Store decoded events (a backfill held in memory), one transaction per batch."""
    counts = StoreCounts()
    iterator = iter(items)
    while part := list(islice(iterator, batch)):
        now = clock.now()
        rows: list[PendingRow] = []
        letters: list[DeadLetter] = []
        for item in part:
            checked = check_item(item, tenant_id=tenant_id, received_at=now)
            if isinstance(checked, Refusal):
                letters.append(
                    dead_letter(checked, tenant_id=tenant_id, channel=channel, received_at=now)
                )
            else:
                rows.append(checked)
        with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
            stored = write_batch(uow, rows, letters, channel=channel, now=now)
            uow.commit()
        counts += stored
        if stored.accepted:
            arrivals.announce()
    return counts
