"""Console sign-in state: server-side sessions and the sign-in throttle's counters.

A session row is what makes a console cookie valid: the cookie holds a random token and
the row only its SHA-256, so a database reader cannot sign in as anyone, and revoking
the row ends the session everywhere at once.

Throttle counters are not tenant-owned (an address guesses across tenants), and their
keys are hashes, so the table holds no emails or addresses.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, id_column, tenant_column


class ConsoleSession(Base):
    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_tenant_user", "tenant_id", "user_id"),)

    id: Mapped[str] = id_column()
    tenant_id: Mapped[str] = tenant_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))


class SignInThrottle(Base):
    """One fixed window of counted sign-in failures (``console/throttle.py``)."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    window_ends_at: Mapped[datetime]
