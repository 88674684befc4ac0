"""Where retention puts inbox rows and raw webhook deliveries once nobody needs them hot.

The hot tables (``inbox``, ``webhook_deliveries``) are read on every event; a year of
history in them would slow today's work, and deleting it would break "nothing is lost".
So ``workflow/retention.py`` moves old processed rows here, column for column, plus the
moment they moved. Both tables lead their primary key with the tenant, the only way they
are ever read (one tenant's history, or one row of it by id).

Nothing points at these tables with a foreign key: the references that outlive the hot
row (timeline entries, record links, aliases, refunds, tracking events) hold a plain id
that ``InboxRepository.get_any`` resolves in either table. They keep the uniqueness of
the hot tables, so an event or a delivery is archived at most once and its natural key
(what a redelivery would carry) still finds it.

Plain tables, not monthly partitions: PostgreSQL requires a partitioned table's unique
keys to include the partition column, so (tenant, source, event id) could no longer be
unique, and every partition would be a table the models do not describe.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base


def _tenant_key() -> Mapped[str]:
    return mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )


class InboxArchive(Base):
    """An ``inbox`` row that was processed long ago (see ``InboxEvent`` for the columns)."""

    __tablename__ = "inbox_archive"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "event_id"),
        Index("ix_inbox_archive_tenant_received", "tenant_id", "received_at"),
    )

    tenant_id: Mapped[str] = _tenant_key()
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(200))
    event_time: Mapped[datetime]
    received_at: Mapped[datetime]
    envelope: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    archived_at: Mapped[datetime]


class WebhookDeliveryArchive(Base):
    """A ``webhook_deliveries`` row whose events all left the hot inbox (or that had none)."""

    __tablename__ = "webhook_deliveries_archive"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "delivery_id", "body_sha256"),
        Index("ix_webhook_deliveries_archive_tenant_received", "tenant_id", "received_at"),
        Index(
            "ix_webhook_deliveries_archive_tenant_body_sha256", "tenant_id", "source", "body_sha256"
        ),
    )

    tenant_id: Mapped[str] = _tenant_key()
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    delivery_id: Mapped[str] = mapped_column(String(200))
    body_sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    headers: Mapped[dict[str, Any]]
    body: Mapped[str] = mapped_column(Text)
    body_bytes: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    dead_letter_id: Mapped[str | None] = mapped_column(String(32))
    """The letter of a refused delivery; dead letters stay hot, so no key is needed."""
    completed_at: Mapped[datetime | None]
    archived_at: Mapped[datetime]
