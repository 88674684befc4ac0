"""The transactional outbox: external side effects decided in the same commit as the decision.

A row is the effect's whole life: its key (fixed at decision time), the lease a worker
holds while delivering it, the vendor's result once confirmed, what differed when the
world changed before delivery (``conflict``), and why it was given up (``dead_letter_reason``).
Rows are never deleted: a delivered row is the proof that the effect happened once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "action_id", "actions"),
        tenant_fk(__tablename__, "case_id", "cases"),
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
        Index("ix_outbox_tenant_case", "tenant_id", "case_id"),
        Index("ix_outbox_tenant_order_ref", "tenant_id", "order_ref"),
        Index("ix_outbox_tenant_system_status", "tenant_id", "system", "status"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    action_id: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[str | None] = mapped_column(String(32))
    order_ref: Mapped[str | None] = mapped_column(String(200))
    system: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempts_at_retry: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """``attempts`` when an operator last retried it; the give-up count starts again there."""
    next_attempt_at: Mapped[datetime]
    leased_by: Mapped[str | None] = mapped_column(String(100))
    leased_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    dead_letter_reason: Mapped[str | None] = mapped_column(Text)
    conflict: Mapped[dict[str, Any] | None]
    result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
