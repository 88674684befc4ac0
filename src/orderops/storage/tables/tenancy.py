"""Tenants and their API keys (stored as hashes only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, id_column, tenant_column
from orderops.storage.tables import access as _access  # noqa: F401  (users, for user_id)


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    retention_days: Mapped[int] = mapped_column(Integer, default=90, server_default="90")
    """How long processed events stay in the hot tables (``workflow/retention.py``)."""


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The user or service identity the key acts as (None: a key from before identities).
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None]
