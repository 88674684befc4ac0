"""The hash-chained audit log, one chain per tenant.

``AuditHead`` holds the tip of each tenant's chain; appenders lock it so two
transactions can never fork the chain, and (tenant, seq) is unique as a second guard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_primary_key


class AuditRecord(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "seq"),
        Index("ix_audit_log_tenant_entity", "tenant_id", "entity_type", "entity_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]]
    data_digest: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of ``data``'s canonical JSON, which the hash covers instead of ``data`` so
    erasure can redact the payload (``audit/chain.py``); None: hashed inline, before 0038."""
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))
    """The audit key's fingerprint (HMAC-SHA256 hash); None: written before keys (SHA-256)."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class AuditHead(Base):
    __tablename__ = "audit_heads"

    tenant_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
