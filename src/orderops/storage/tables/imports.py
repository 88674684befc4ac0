"""Operator input kept in the database: file import runs and versioned tenant policies.

``import_runs`` makes a file import resumable: the import records how many of the
file's units it has committed, so a second run of the same file (same sha256) after an
interruption carries on from there. A unit is one line of a JSONL or webhooks file, one
data row of an inventory or customers CSV, and one order (all its rows) of an orders CSV.

``tenant_policies`` keeps every version of a tenant's fulfillment policy; the newest
version is the one in force, older ones stay for the audit trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_primary_key


class ImportRunStatus:
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    COMPLETED = "completed"


class ImportRun(Base):
    __tablename__ = "import_runs"
    __table_args__ = (
        tenant_primary_key(),
        Index("ix_import_runs_tenant_file", "tenant_id", "file_sha256", "format"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(32))
    rows_done: Mapped[int] = mapped_column(Integer)
    rows_total: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class TenantPolicy(Base):
    __tablename__ = "tenant_policies"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "version"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
