"""Writeback history and sagas: every delivery attempt, and multi-step actions with undo.

``writeback_attempts`` keeps one row per attempt (claimed, then finished or abandoned by
a crash) so an operator can see what was sent, what the vendor answered, and which worker
did it. A saga is a row per multi-step action and a row per step; each step's effect is an
outbox message with its own key, so the saga inherits the outbox's at-most-once delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class WritebackAttempt(Base):
    __tablename__ = "writeback_attempts"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "message_id", "outbox", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "message_id", "number"),
        Index("ix_writeback_attempts_tenant_started", "tenant_id", "started_at"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    message_id: Mapped[str] = mapped_column(String(32))
    number: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(16))
    request_summary: Mapped[dict[str, Any]]
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class WritebackSaga(Base):
    __tablename__ = "writeback_sagas"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases"),
        UniqueConstraint("tenant_id", "saga_key"),
        Index("ix_writeback_sagas_tenant_case", "tenant_id", "case_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    saga_key: Mapped[str] = mapped_column(String(160))
    status: Mapped[str] = mapped_column(String(16))
    failed_step: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class WritebackSagaStep(Base):
    __tablename__ = "writeback_saga_steps"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "saga_id", "writeback_sagas", ondelete="CASCADE"),
        tenant_fk(__tablename__, "message_id", "outbox"),
        tenant_fk(__tablename__, "undo_message_id", "outbox"),
        UniqueConstraint("tenant_id", "saga_id", "position"),
        Index("ix_writeback_saga_steps_message", "message_id"),
        Index("ix_writeback_saga_steps_undo_message", "undo_message_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    saga_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    system: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    undo: Mapped[dict[str, Any] | None]
    pivot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Cannot be undone and commits the saga: once done, later failures undo nothing."""
    state: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str | None] = mapped_column(String(32))
    undo_message_id: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
