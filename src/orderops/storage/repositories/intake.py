"""Inbox and dead-letter queries."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Table, bindparam, exists, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from orderops.domain.errors import DuplicateEvent
from orderops.storage.base import new_id
from orderops.storage.repositories._dialect import insert_if_absent_unless
from orderops.storage.tables import DeadLetter, InboxArchive, InboxEvent

REPLAY_ORDER = (InboxEvent.event_time, InboxEvent.source, InboxEvent.event_id)
"""The order in which a tenant's events are applied: when they happened, then a stable key."""


class InboxStatus:
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


class InboxRepository:
    def __init__(self, session: Session, tenant_id: str) -> None:
        self._session = session
        self._tenant = tenant_id

    def add(
        self,
        *,
        source: str,
        event_id: str,
        type: str,
        subject: str | None,
        event_time: datetime,
        received_at: datetime,
        envelope: dict[str, Any],
    ) -> str:
        """Store a raw event; raise DuplicateEvent if (tenant, source, id) is already here,
        in the inbox or in its archive."""
        inbox_id = new_id()
        archived = exists().where(
            InboxArchive.tenant_id == self._tenant,
            InboxArchive.source == source,
            InboxArchive.event_id == event_id,
        )
        inserted = insert_if_absent_unless(
            self._session,
            InboxEvent.__table__,  # type: ignore[arg-type]
            {
                "id": inbox_id,
                "tenant_id": self._tenant,
                "source": source,
                "event_id": event_id,
                "type": type,
                "subject": subject,
                "event_time": event_time,
                "received_at": received_at,
                "envelope": envelope,
                "status": InboxStatus.PENDING,
                "attempts": 0,
            },
            unless=archived,  # retention moved it: a redelivery still, however old
        )
        if not inserted:
            raise DuplicateEvent(f"event {source}/{event_id} was already received")
        return inbox_id

    def get(self, inbox_id: str) -> InboxEvent | None:
        return self._session.scalar(
            select(InboxEvent).where(
                InboxEvent.tenant_id == self._tenant, InboxEvent.id == inbox_id
            )
        )

    def find(self, source: str, event_id: str) -> InboxEvent | None:
        return self._session.scalar(
            select(InboxEvent).where(
                InboxEvent.tenant_id == self._tenant,
                InboxEvent.source == source,
                InboxEvent.event_id == event_id,
            )
        )

    def claim_many(self, inbox_ids: Sequence[str]) -> list[InboxEvent]:
        """Lock the pending rows among ``inbox_ids``, in the order given.

        Rows another worker holds (SKIP LOCKED) or that are no longer pending are left out.
        """
        rows = self._session.scalars(
            select(InboxEvent)
            .where(
                InboxEvent.tenant_id == self._tenant,
                InboxEvent.id.in_(list(inbox_ids)),
                InboxEvent.status == InboxStatus.PENDING,
            )
            .with_for_update(skip_locked=True)
        ).all()
        by_id = {row.id: row for row in rows}
        return [by_id[i] for i in inbox_ids if i in by_id]

    def pending_ids(
        self,
        *,
        limit: int,
        up_to: datetime | None = None,
        passed_over: Collection[str] = (),
    ) -> Sequence[str]:
        """Pending rows in replay order, oldest event first, at most ``up_to`` when given.

        Ties go by source and event id, never by arrival, so every processor replays the
        same sequence. ``passed_over`` (rows that just failed) is left out in the query,
        not after it, so failures at the head never hide the rows behind them.
        """
        query = select(InboxEvent.id).where(
            InboxEvent.tenant_id == self._tenant, InboxEvent.status == InboxStatus.PENDING
        )
        if up_to is not None:
            query = query.where(InboxEvent.event_time <= up_to)
        if passed_over:
            query = query.where(InboxEvent.id.not_in(list(passed_over)))
        return self._session.scalars(query.order_by(*REPLAY_ORDER).limit(limit)).all()

    def pending_horizon(self, inbox_ids: Iterable[str]) -> datetime | None:
        """The latest event time among the still-pending rows of ``inbox_ids``."""
        latest: datetime | None = None
        iterator = iter(inbox_ids)
        while part := list(islice(iterator, 500)):
            found = self._session.scalar(
                select(func.max(InboxEvent.event_time)).where(
                    InboxEvent.tenant_id == self._tenant,
                    InboxEvent.id.in_(part),
                    InboxEvent.status == InboxStatus.PENDING,
                )
            )
            if found is not None and (latest is None or found > latest):
                latest = found
        return latest

    def still_pending(self, inbox_ids: Sequence[str]) -> set[str]:
        return set(
            self._session.scalars(
                select(InboxEvent.id).where(
                    InboxEvent.tenant_id == self._tenant,
                    InboxEvent.id.in_(list(inbox_ids)),
                    InboxEvent.status == InboxStatus.PENDING,
                )
            )
        )

    def mark_processed(self, rows: Sequence[InboxEvent], *, now: datetime) -> None:
        """Stamp the rows processed (one more attempt each) in one statement for all of
        them, at the end of their chunk, rather than one UPDATE per row flushed with
        each row's work. The rows in memory show the same."""
        if not rows:
            return
        table: Table = InboxEvent.__table__  # type: ignore[assignment]
        self._session.execute(
            update(table)
            .where(table.c.tenant_id == self._tenant, table.c.id == bindparam("row_id"))
            .values(
                status=InboxStatus.PROCESSED,
                processed_at=now,
                error=None,
                attempts=bindparam("row_attempts"),
            ),
            [{"row_id": row.id, "row_attempts": row.attempts + 1} for row in rows],
        )
        for row in rows:
            for name, value in (
                ("status", InboxStatus.PROCESSED),
                ("processed_at", now),
                ("error", None),
                ("attempts", row.attempts + 1),
            ):
                set_committed_value(row, name, value)

    def lock_processing(self, *, wait: bool = True) -> bool:
        """Make this transaction the tenant's one event processor until it ends.

        Processing is a fold over the inbox in replay order, and stock levels reach across
        orders, so two processors of one tenant must take turns, not split the work: on
        PostgreSQL a transaction-scoped advisory lock keyed by the tenant; SQLite already
        runs one writing transaction at a time (``BEGIN IMMEDIATE``). With ``wait=False``
        the answer is whether this transaction got it: a worker that finds the tenant
        busy moves on to another tenant instead of queueing behind the holder, which is
        how many workers share many tenants.
        """
        if self._session.get_bind().dialect.name != "postgresql":
            return True
        key = {"key": f"orderops.inbox:{self._tenant}"}
        if wait:
            self._session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), key
            )
            return True
        return bool(
            self._session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"), key
            )
        )

    # -- rows retention moved to ``inbox_archive`` (workflow/retention.py) --------------------

    def get_any(self, inbox_id: str) -> InboxEvent | InboxArchive | None:
        """The row an id names, hot or archived.

        For ids kept by records that outlive the hot row (timeline entries, record links,
        aliases, refunds, tracking events): what the event said stays readable after
        retention moved it. Archived rows are history, never work: nothing processes them.
        """
        return self.get(inbox_id) or self._session.scalar(
            select(InboxArchive).where(
                InboxArchive.tenant_id == self._tenant, InboxArchive.id == inbox_id
            )
        )

    def find_archived(self, source: str, event_id: str) -> InboxArchive | None:
        """The archived row of (source, event id): a redelivery of an event retention has
        moved is still a duplicate, not a new event."""
        return self._session.scalar(
            select(InboxArchive).where(
                InboxArchive.tenant_id == self._tenant,
                InboxArchive.source == source,
                InboxArchive.event_id == event_id,
            )
        )


class DeadLetterStatus:
    OPEN = "open"
    REPLAYED = "replayed"


class DeadLetterRepository:
    def __init__(self, session: Session, tenant_id: str) -> None:
        self._session = session
        self._tenant = tenant_id

    def add(self, letter: DeadLetter) -> DeadLetter:
        letter.tenant_id = self._tenant
        self._session.add(letter)
        self._session.flush()
        return letter

    def get(self, letter_id: str) -> DeadLetter | None:
        return self._session.scalar(
            select(DeadLetter).where(
                DeadLetter.tenant_id == self._tenant, DeadLetter.id == letter_id
            )
        )

    def open_for_inbox(self, inbox_id: str) -> DeadLetter | None:
        """The open letter of an accepted event whose processing failed, if any."""
        return self._session.scalar(
            select(DeadLetter).where(
                DeadLetter.tenant_id == self._tenant,
                DeadLetter.inbox_id == inbox_id,
                DeadLetter.status == DeadLetterStatus.OPEN,
            )
        )

    def list(self, *, status: str | None = None, limit: int = 100) -> Sequence[DeadLetter]:
        query = select(DeadLetter).where(DeadLetter.tenant_id == self._tenant)
        if status is not None:
            query = query.where(DeadLetter.status == status)
        return self._session.scalars(
            query.order_by(DeadLetter.received_at.desc()).limit(limit)
        ).all()
