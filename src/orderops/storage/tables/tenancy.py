"""Tenants and their API keys (stored as hashes only).

A request names its key, not its tenant, so a key is found by its hash alone, through a
plain index on ``key_hash``; the hash is unique per tenant (a unique key across tenants
could not be kept by a database distributed by tenant). Secrets are random 256-bit
tokens (``workflow/tenants.py``), so two keys never share a hash in practice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables import access as _access  # noqa: F401  (users, for user_id)
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class Tenant(Base):
    """The one table every tenant-owned row names: a reference table on Citus, copied to
    every node so those keys hold on each shard (``storage/tables/keys.py``)."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    retention_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    """How long processed events stay in the hot tables (``workflow/retention.py``)."""


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "user_id", "users"),
        UniqueConstraint("tenant_id", "key_hash"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The user or service identity the key acts as (None: a key from before identities).
    user_id: Mapped[str | None] = mapped_column(String(32))
    last_used_at: Mapped[datetime | None]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
