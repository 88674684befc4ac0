"""Accepting canonical events: store raw first, dead-letter what cannot be accepted.

The caller gets one result per event; nothing a sender posts is dropped silently: it is
either in the inbox, recognised as a duplicate of an inbox row, or a dead letter with
its reason.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import DuplicateEvent, InvalidEvent, MalformedPayload, PayloadTooLarge
from orderops.domain.usage import Meter
from orderops.ingest import arrivals, safe_json
from orderops.ingest.envelope import MAX_EVENT_BYTES, parse_event
from orderops.metering import usage
from orderops.storage.repositories.intake import DeadLetterStatus
from orderops.storage.tables import DeadLetter
from orderops.storage.uow import UnitOfWork
from orderops.telemetry import tracing
from orderops.telemetry.metrics import METRICS

DEAD_LETTER_BODY_LIMIT = 16 * 1024 * 1024
"""Bodies are kept whole up to this size; beyond it only the head is kept, and says so."""


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True, kw_only=True)
class IntakeResult:
    index: int
    outcome: Outcome
    event_id: str | None = None
    inbox_id: str | None = None
    reason: str | None = None
    dead_letter_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class IntakeLimits:
    max_body_bytes: int
    max_batch_events: int


def accept_body(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    body: bytes,
    content_type: str | None,
    channel: str,
    clock: Clock,
    limits: IntakeLimits,
) -> list[IntakeResult]:
    """Take one request body holding an event or a JSON array of events.

    Raises ``InvalidEvent``/``PayloadTooLarge`` when the body as a whole is unusable, after
    its dead letter has been committed.
    """
    if len(body) > limits.max_body_bytes:
        letter = dead_letter(
            sessions,
            tenant_id=tenant_id,
            channel=channel,
            body=body,
            content_type=content_type,
            code="payload_too_large",
            clock=clock,
            reason=f"body of {len(body)} bytes exceeds the {limits.max_body_bytes} byte limit",
        )
        raise PayloadTooLarge(f"body exceeds {limits.max_body_bytes} bytes (dead letter {letter})")
    try:
        decoded = safe_json.loads(body)
    except safe_json.UnsafeJson as exc:
        letter = dead_letter(
            sessions,
            tenant_id=tenant_id,
            channel=channel,
            body=body,
            content_type=content_type,
            code=exc.reason_code,
            clock=clock,
            reason=exc.message,
        )
        raise MalformedPayload(f"{exc.message} (dead letter {letter})") from exc
    items = decoded if isinstance(decoded, list) else [decoded]
    if not items:
        raise InvalidEvent("an empty batch holds no events")
    if len(items) > limits.max_batch_events:
        letter = dead_letter(
            sessions,
            tenant_id=tenant_id,
            channel=channel,
            body=body,
            content_type=content_type,
            code="batch_too_large",
            clock=clock,
            reason=f"batch of {len(items)} events exceeds {limits.max_batch_events}",
        )
        raise PayloadTooLarge(
            f"batch of {len(items)} events exceeds {limits.max_batch_events} (dead letter {letter})"
        )
    return accept_items(sessions, tenant_id=tenant_id, items=items, channel=channel, clock=clock)


def accept_items(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    items: list[Any],
    channel: str,
    clock: Clock,
    quota_checked: bool = False,
) -> list[IntakeResult]:
    """Validate and store decoded events in one transaction: inbox rows and dead letters.

    Refused whole (``QuotaExceeded``, nothing stored) when the tenant's hard monthly
    events quota is reached, unless the caller held it to that already
    (``quota_checked``: a webhook, before storing the delivery)."""
    now = clock.now()
    started = time.perf_counter()
    results: list[IntakeResult] = []
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        if not quota_checked:
            usage.hold_to_quota(uow, Meter.EVENTS, now=now)
        for index, item in enumerate(items):
            raw = json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str)
            source = item.get("source") if isinstance(item, dict) else None
            try:
                if len(raw.encode("utf-8")) > MAX_EVENT_BYTES:
                    raise PayloadTooLarge(f"event exceeds {MAX_EVENT_BYTES} bytes")
                event = parse_event(item, tenant_id=tenant_id)
            except InvalidEvent as exc:
                letter = _letter(
                    tenant_id,
                    channel,
                    raw.encode("utf-8"),
                    "application/json",
                    exc.code,
                    exc.message,
                    now,
                    source=str(source or "unknown"),
                )
                uow.dead_letters.add(letter)
                results.append(
                    IntakeResult(
                        index=index,
                        outcome=Outcome.REJECTED,
                        reason=exc.message,
                        dead_letter_id=letter.id,
                        event_id=_str_or_none(item, "id"),
                    )
                )
                continue
            envelope = event.envelope
            try:
                inbox_id = uow.inbox.add(
                    source=envelope.source,
                    event_id=envelope.id,
                    type=envelope.type,
                    subject=envelope.subject,
                    event_time=envelope.time,
                    received_at=now,
                    envelope=tracing.stamp(item),  # the trace goes on in the worker
                )
            except DuplicateEvent:
                first = uow.inbox.find(envelope.source, envelope.id) or uow.inbox.find_archived(
                    envelope.source, envelope.id
                )
                results.append(
                    IntakeResult(
                        index=index,
                        outcome=Outcome.DUPLICATE,
                        event_id=envelope.id,
                        inbox_id=first.id if first else None,
                    )
                )
                continue
            results.append(
                IntakeResult(
                    index=index, outcome=Outcome.ACCEPTED, event_id=envelope.id, inbox_id=inbox_id
                )
            )
        accepted = sum(r.outcome is Outcome.ACCEPTED for r in results)
        usage.count(uow, Meter.EVENTS, channel, accepted, at=now)
        uow.commit()
    METRICS.ingested(channel, (r.outcome for r in results), seconds=time.perf_counter() - started)
    if any(r.outcome is Outcome.ACCEPTED for r in results):
        arrivals.announce()
    return results


def dead_letter(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    channel: str,
    body: bytes,
    content_type: str | None,
    code: str,
    reason: str,
    clock: Clock,
    source: str = "unknown",
) -> str:
    """Commit a dead letter on its own, so it survives whatever the request does next."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        letter = uow.dead_letters.add(
            _letter(
                tenant_id, channel, body, content_type, code, reason, clock.now(), source=source
            )
        )
        uow.commit()
        return letter.id


def _letter(
    tenant_id: str,
    channel: str,
    body: bytes,
    content_type: str | None,
    code: str,
    reason: str,
    now: Any,
    *,
    source: str,
) -> DeadLetter:
    kept = body[:DEAD_LETTER_BODY_LIMIT]
    return DeadLetter(
        tenant_id=tenant_id,
        source=source[:200],
        channel=channel,
        received_at=now,
        reason_code=code,
        reason=reason,
        content_type=content_type,
        body=kept.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        body_bytes=len(body),
        body_truncated=len(kept) < len(body),
        status=DeadLetterStatus.OPEN,
    )


def _str_or_none(item: Any, key: str) -> str | None:
    value = item.get(key) if isinstance(item, dict) else None
    return str(value)[:200] if value is not None else None
