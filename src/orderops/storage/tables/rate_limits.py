"""Rate limits: the shared windows' counts and each tenant's own limits.

``rate_limit_windows`` holds one row per counted bucket (a tenant's ingest, one key's API
calls, ...): the count of the window that ends at ``window_ends_at``. A new window replaces
the row's count in the same upsert that adds to it, so the table never grows past one row
per bucket and needs no cleaning. Used when no Redis is configured
(``storage/rate_windows.py``).

``tenant_rate_limits`` holds a tenant's overrides of the configured defaults, one per scope
and partition; setting and clearing them is audited (``tenancy/rate_limits.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column


class RateLimitWindow(Base):
    __tablename__ = "rate_limit_windows"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "bucket"),)

    tenant_id: Mapped[str] = tenant_column()
    bucket: Mapped[str] = mapped_column(String(100))
    """``<scope>-<partition>``, with the key's id for a key's bucket."""
    hits: Mapped[int] = mapped_column(Integer)
    window_ends_at: Mapped[datetime]


class TenantRateLimit(Base):
    __tablename__ = "tenant_rate_limits"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "scope", "partition"),)

    tenant_id: Mapped[str] = tenant_column()
    scope: Mapped[str] = mapped_column(String(16))
    partition: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Integer)
    window_seconds: Mapped[int] = mapped_column(Integer)
    set_at: Mapped[datetime]
    set_by: Mapped[str] = mapped_column(String(200))
