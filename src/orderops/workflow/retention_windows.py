"""Retention windows for what outlives the hot tables, and the job that enforces them.

``workflow/retention.py`` moves processed events out of the hot tables; this module
decides how long the rest is kept, per tenant (``retention_windows``; a missing value is
the default below):

- ``archive_days``: archived inbox rows and deliveries are deleted this long after they
  were archived (the archive exists for disputes and audits, which have horizons);
- ``raw_body_days``: a finished delivery's raw body and headers (hot or archived) and a
  closed dead letter's body are cleared this long after receipt; the body's SHA-256 and
  size stay, so dedupe and replay checks by hash still work;
- ``evidence_days``: evidence blobs older than this are deleted from the store and the
  table, unless a case that is still open names them on its timeline;
- ``message_days``: a finished customer message's subject, body and recipient (and its
  history's copies) are cleared this long after its last change.

Nothing pending, deferred, failed, in flight or open is touched. Every change of a
window is audited with its previous value; every run that removed something appends
one ``retention.expired`` record with counts and the hashes of deleted blobs (hashes,
never content), so the audit chain stays whole and says what went.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.decide.communications import CommunicationStatus
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.clock import Clock
from orderops.domain.errors import InvalidEvent
from orderops.evidence.store import FileBlobStore
from orderops.ingest.webhooks import DeliveryStatus
from orderops.storage.repositories.intake import DeadLetterStatus
from orderops.storage.tables import (
    Case,
    CaseTimelineEntry,
    Communication,
    CommunicationEvent,
    DeadLetter,
    EvidenceBlob,
    InboxArchive,
    RetentionWindowRow,
    WebhookDelivery,
    WebhookDeliveryArchive,
)
from orderops.storage.uow import UnitOfWork

EXPIRED_TEXT = "[removed: retention window]"
"""What a cleared message body reads, so a reader sees why it is empty."""
FINISHED_MESSAGES = (
    CommunicationStatus.SENT,
    CommunicationStatus.DELIVERED,
    CommunicationStatus.FAILED,
    CommunicationStatus.BOUNCED,
    CommunicationStatus.CANCELLED,
)
FINISHED_DELIVERIES = (DeliveryStatus.ACCEPTED, DeliveryStatus.IGNORED, DeliveryStatus.REJECTED)


@dataclass(frozen=True)
class Windows:
    archive_days: int = 730
    """Two years: card networks allow disputes for up to 540 days after a purchase."""
    raw_body_days: int = 180
    """Half a year: past most card networks' dispute windows (120 days) and the hot window
    (90 days), so an archived delivery still shows what was received; after that the
    mapped events say it all."""
    evidence_days: int = 730
    """As the archive: evidence serves the same disputes."""
    message_days: int = 365
    """A year of what was said to a customer, for the cases that come back."""


DEFAULTS = Windows()
BOUNDS: dict[str, tuple[int, int]] = {
    "archive_days": (30, 3660),
    "raw_body_days": (7, 3660),
    "evidence_days": (30, 3660),
    "message_days": (30, 3660),
}
"""A raw body is kept at least a week (a provider's retries and a replay need it); the
rest at least a month; nothing more than ten years."""


@dataclass(frozen=True)
class ExpiryReport:
    tenant_id: str
    windows: Windows
    dry_run: bool
    archived_inbox_deleted: int = 0
    archived_deliveries_deleted: int = 0
    raw_bodies_cleared: int = 0
    dead_letter_bodies_cleared: int = 0
    evidence_deleted: int = 0
    messages_cleared: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in {"tenant_id", "windows", "dry_run"}
        }


def windows_of(uow: UnitOfWork) -> Windows:
    row = _row(uow.session, uow.tenant_id)
    if row is None:
        return DEFAULTS
    found = {name: getattr(row, name) for name in BOUNDS if getattr(row, name) is not None}
    return replace(DEFAULTS, **found)


def set_windows(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    changes: dict[str, int],
    actor: str,
    clock: Clock,
) -> Windows:
    """Change some of the tenant's windows (bounds checked, audited); the windows now."""
    for name, days in changes.items():
        if name not in BOUNDS:
            raise InvalidEvent(f"no retention window {name!r}")
        low, high = BOUNDS[name]
        if not low <= days <= high:
            raise InvalidEvent(f"{name} is {low} to {high} days, not {days}")
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        previous = windows_of(uow)
        row = _row(uow.session, tenant_id)
        if row is None:
            row = RetentionWindowRow(tenant_id=tenant_id, updated_at=now, updated_by=actor)
            uow.session.add(row)
        for name, days in changes.items():
            setattr(row, name, days)
        row.updated_at, row.updated_by = now, actor
        current = replace(previous, **changes)
        uow.audit.append(
            at=now,
            actor=actor,
            action="tenant.retention_windows_set",
            entity_type="tenant",
            entity_id=tenant_id,
            data={"windows": asdict(current), "previous": asdict(previous)},
        )
        uow.commit()
    return current


def expire_content(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    clock: Clock,
    evidence: FileBlobStore | None = None,
    dry_run: bool = False,
) -> ExpiryReport:
    """Enforce the tenant's windows once, in one transaction (``dry_run``: count only).
    Evidence is left alone unless its store is given."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id, write=not dry_run) as uow:
        windows = windows_of(uow)
        s, t = uow.session, tenant_id
        archive_cut = now - timedelta(days=windows.archive_days)
        body_cut = now - timedelta(days=windows.raw_body_days)
        message_cut = now - timedelta(days=windows.message_days)
        counts: dict[str, int] = {}
        for name, table in (
            ("archived_inbox_deleted", InboxArchive),
            ("archived_deliveries_deleted", WebhookDeliveryArchive),
        ):
            where = and_(table.tenant_id == t, table.archived_at < archive_cut)
            counts[name] = _apply(s, table, where, None, dry_run=dry_run)
        cleared = {"body": "", "headers": {}}
        counts["raw_bodies_cleared"] = sum(
            _apply(
                s,
                table,
                and_(
                    table.tenant_id == t,
                    table.status.in_(FINISHED_DELIVERIES),
                    table.received_at < body_cut,
                    table.body != "",
                ),
                cleared,
                dry_run=dry_run,
            )
            for table in (WebhookDelivery, WebhookDeliveryArchive)
        )
        counts["dead_letter_bodies_cleared"] = _apply(
            s,
            DeadLetter,
            and_(
                DeadLetter.tenant_id == t,
                DeadLetter.status != DeadLetterStatus.OPEN,
                DeadLetter.received_at < body_cut,
                DeadLetter.body != "",
            ),
            {"body": ""},
            dry_run=dry_run,
        )
        counts["messages_cleared"] = _expire_messages(s, t, message_cut, now, dry_run=dry_run)
        deleted: list[str] = []
        if evidence is not None:
            cut = now - timedelta(days=windows.evidence_days)
            deleted = _expire_evidence(s, t, cut, evidence, dry_run=dry_run)
        counts["evidence_deleted"] = len(deleted)
        report = ExpiryReport(tenant_id, windows, dry_run, **counts)
        if not dry_run and any(counts.values()):
            uow.audit.append(
                at=now,
                actor="system:retention",
                action="retention.expired",
                entity_type="tenant",
                entity_id=t,
                data={"counts": report.counts, "evidence_sha256": deleted},
            )
            uow.commit()
    return report


def _expire_messages(
    session: Session, tenant_id: str, cut: datetime, now: datetime, *, dry_run: bool
) -> int:
    message = Communication
    ids = list(
        session.scalars(
            select(message.id).where(
                message.tenant_id == tenant_id,
                message.status.in_(FINISHED_MESSAGES),
                message.updated_at < cut,
                message.body != EXPIRED_TEXT,
            )
        )
    )
    if dry_run or not ids:
        return len(ids)
    session.execute(
        update(message)
        .where(message.tenant_id == tenant_id, message.id.in_(ids))
        .values(subject=None, body=EXPIRED_TEXT, recipient=None, delivery_error=None)
    )
    session.execute(
        update(CommunicationEvent)
        .where(
            CommunicationEvent.tenant_id == tenant_id,
            CommunicationEvent.communication_id.in_(ids),
        )
        .values(subject=None, body=EXPIRED_TEXT)
    )
    return len(ids)


def _expire_evidence(
    session: Session, tenant_id: str, cut: datetime, store: FileBlobStore, *, dry_run: bool
) -> list[str]:
    """Blobs past the window that no open case names; deleted from the store, then the
    table (a crash between leaves a row whose read says NotFound, never bytes nobody
    accounts for)."""
    open_cases = select(Case.id).where(
        Case.tenant_id == tenant_id, Case.status.not_in(list(CLOSED_STATUSES))
    )
    data = CaseTimelineEntry.data
    held = select(func.coalesce(data["sha256"].as_string(), data["snapshot"].as_string())).where(
        CaseTimelineEntry.tenant_id == tenant_id, CaseTimelineEntry.case_id.in_(open_cases)
    )
    held_hashes = {h for h in session.scalars(held) if h}
    old = session.scalars(
        select(EvidenceBlob.sha256).where(
            EvidenceBlob.tenant_id == tenant_id, EvidenceBlob.created_at < cut
        )
    )
    doomed = sorted(h for h in old if h not in held_hashes)
    if dry_run or not doomed:
        return doomed
    for sha256 in doomed:
        store.delete(tenant_id, sha256)
    session.execute(
        delete(EvidenceBlob).where(
            EvidenceBlob.tenant_id == tenant_id, EvidenceBlob.sha256.in_(doomed)
        )
    )
    return doomed


def _apply(
    session: Session, table: Any, where: Any, values: dict[str, Any] | None, *, dry_run: bool
) -> int:
    """Count the rows ``where`` picks; unless a dry run, delete them (``values`` None) or
    set ``values`` on them."""
    found = int(session.scalar(select(func.count()).select_from(table).where(where)) or 0)
    if dry_run or not found:
        return found
    if values is None:
        session.execute(delete(table).where(where))
    else:
        session.execute(update(table).where(where).values(**values))
    return found


def _row(session: Session, tenant_id: str) -> RetentionWindowRow | None:
    return session.scalar(
        select(RetentionWindowRow).where(RetentionWindowRow.tenant_id == tenant_id)
    )
