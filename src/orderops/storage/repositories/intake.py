"""Inbox and dead-letter queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderops.domain.errors import DuplicateEvent
from orderops.storage.base import new_id
from orderops.storage.repositories._dialect import insert_if_absent
from orderops.storage.tables import DeadLetter, InboxEvent


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
        """Store a raw event; raise DuplicateEvent if (tenant, source, id) is already here."""
        inbox_id = new_id()
        inserted = insert_if_absent(
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

    def pending_ids(self, *, limit: int) -> Sequence[str]:
        """Oldest first by event time, so a backlog replays in the order things happened."""
        return self._session.scalars(
            select(InboxEvent.id)
            .where(InboxEvent.tenant_id == self._tenant, InboxEvent.status == InboxStatus.PENDING)
            .order_by(InboxEvent.event_time, InboxEvent.received_at)
            .limit(limit)
        ).all()


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

    def list(self, *, status: str | None = None, limit: int = 100) -> Sequence[DeadLetter]:
        query = select(DeadLetter).where(DeadLetter.tenant_id == self._tenant)
        if status is not None:
            query = query.where(DeadLetter.status == status)
        return self._session.scalars(
            query.order_by(DeadLetter.received_at.desc()).limit(limit)
        ).all()
