"""Per-tenant retention windows beyond the hot window, and the record of each erasure.

``tenants.retention_days`` says how long processed events stay hot (``workflow/
retention.py``); ``retention_windows`` says how long what is left afterwards is kept: the
archive tables' rows, raw delivery bodies, evidence blobs and customer messages' bodies.
A missing row, or a missing value in it, means the documented default
(``workflow/retention_windows.py``).

``customer_erasures`` holds one row per erasure run: who asked, when, why and how many
rows of each table it changed -- never the erased data (the customer id stays: it is the
desk's own pseudonymous key, which the remaining orders and cases still carry).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_primary_key


class RetentionWindowRow(Base):
    __tablename__ = "retention_windows"
    __table_args__ = (tenant_primary_key(), UniqueConstraint("tenant_id"))

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    archive_days: Mapped[int | None] = mapped_column(Integer)
    """Archived inbox rows and deliveries are deleted this long after they were archived."""
    raw_body_days: Mapped[int | None] = mapped_column(Integer)
    """A finished delivery's raw body and headers are cleared this long after receipt."""
    evidence_days: Mapped[int | None] = mapped_column(Integer)
    message_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class CustomerErasure(Base):
    __tablename__ = "customer_erasures"
    __table_args__ = (
        tenant_primary_key(),
        Index("ix_customer_erasures_tenant_customer", "tenant_id", "customer_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    customer_id: Mapped[str | None] = mapped_column(String(200))
    """The desk's customer id, when the subject had a customer row."""
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    audit_seq: Mapped[int | None] = mapped_column(Integer)
    """The ``customer.erased`` audit record of this run (None: it changed nothing)."""
    counts: Mapped[dict[str, Any]]
    """Rows changed per ``table.column`` (and blobs deleted); counts, not content."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
