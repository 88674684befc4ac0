"""The inbox of raw events (stored before anything reads them) and the dead letters.

The unique constraint on (tenant, source, event id) is what makes a redelivery harmless:
the second insert fails and the intake answers "duplicate" without a second effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class InboxEvent(Base):
    __tablename__ = "inbox"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "source", "event_id"),
        Index("ix_inbox_tenant_status_received", "tenant_id", "status", "received_at"),
        Index("ix_inbox_tenant_subject", "tenant_id", "subject"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    source: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(200))
    event_time: Mapped[datetime]
    received_at: Mapped[datetime]
    envelope: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class DeadLetter(Base):
    """Input we could not accept or could not process, kept with the reason, to replay
    after a fix."""

    __tablename__ = "dead_letters"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "replay_inbox_id", "inbox"),
        tenant_fk(__tablename__, "inbox_id", "inbox"),
        Index("ix_dead_letters_tenant_status", "tenant_id", "status", "received_at"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    source: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    reason_code: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    body_bytes: Mapped[int]
    body_truncated: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16))
    replayed_at: Mapped[datetime | None]
    replay_inbox_id: Mapped[str | None] = mapped_column(String(32), index=True)
    inbox_id: Mapped[str | None] = mapped_column(String(32), index=True)
    """Set when the input was accepted but its processing failed: the inbox row to run
    again. Replay resets that row (re-ingesting would only meet the inbox's dedupe)."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
