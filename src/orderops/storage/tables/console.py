"""Console sign-in state: server-side sessions and the sign-in throttle's counters.

A session row is what makes a console cookie valid: the cookie holds a random token and
the row only its SHA-256, so a database reader cannot sign in as anyone, and revoking
the row ends the session everywhere at once. The cookie does not name the tenant, so a
session is found by its hash alone, through a plain index on ``token_hash``; the hash is
unique per tenant (a database distributed by tenant keeps no uniqueness across tenants),
and tokens are random 256-bit values, so two sessions never share one in practice.

Throttle counters are not tenant-owned (an address guesses across tenants), and their
keys are hashes, so the table holds no emails or addresses. It is one of the two tables
without a tenant, a reference table on Citus (``storage/tables/keys.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class ConsoleSession(Base):
    __tablename__ = "console_sessions"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "user_id", "users", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "token_hash"),
        Index("ix_console_sessions_tenant_user", "tenant_id", "user_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    user_id: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class SignInThrottle(Base):
    """One fixed window of counted sign-in failures (``console/throttle.py``)."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    window_ends_at: Mapped[datetime]
