"""Server-side console sessions: created at sign-in, checked on every request, revoked.

The cookie carries 32 random bytes; the row keeps only their SHA-256 (like API keys,
there is nothing to brute-force, so a plain hash suffices and lookup is one indexed
query). A session ends when revoked (sign-out; a password change, disabling or a role
change of its person, through ``revoke_sessions_for_user``), after its absolute lifetime,
or after an idle gap; ``last_seen_at`` is refreshed at most once a minute so reads do not
each become a write.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.storage.tables.console import ConsoleSession
from orderops.storage.tenant_lookups import tenant_of_console_session
from orderops.storage.uow import UnitOfWork

SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    lifetime: timedelta
    idle: timedelta


@dataclass(frozen=True)
class LiveSession:
    id: str
    tenant_id: str
    user_id: str
    token: str
    """The cookie's secret; CSRF tokens are derived from it (``console/security.py``)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(
    uow: UnitOfWork, *, user_id: str, now: datetime, policy: SessionPolicy, address: str | None
) -> LiveSession:
    """A new session for the person, in the caller's transaction (with its audit record)."""
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        tenant_id=uow.tenant_id,
        user_id=user_id,
        token_hash=token_hash(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.lifetime,
        address=(address or "")[:64] or None,
    )
    uow.session.add(row)
    uow.session.flush()
    return LiveSession(row.id, uow.tenant_id, user_id, token)


def resume_session(
    sessions: sessionmaker[Session], token: str | None, *, now: datetime, policy: SessionPolicy
) -> LiveSession | None:
    """The live session a cookie names; None when unknown, revoked, expired or idle."""
    if not token or len(token) > 128:
        return None
    hashed = token_hash(token)
    tenant_id = tenant_of_console_session(sessions, hashed)
    if tenant_id is None:
        return None
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        row = uow.session.scalar(
            select(ConsoleSession).where(
                ConsoleSession.tenant_id == tenant_id, ConsoleSession.token_hash == hashed
            )
        )
        if row is None or row.revoked_at is not None:
            return None
        if now >= row.expires_at or now - row.last_seen_at > policy.idle:
            return None
        live = LiveSession(row.id, row.tenant_id, row.user_id, token)
        stale = now - row.last_seen_at >= SEEN_RESOLUTION
    if stale:
        _touch(sessions, live, now)
    return live


def end_session(uow: UnitOfWork, live: LiveSession, *, now: datetime, reason: str) -> bool:
    """Revoke one session in the caller's transaction; False when it had already ended."""
    result = uow.session.execute(
        update(ConsoleSession)
        .where(
            ConsoleSession.tenant_id == uow.tenant_id,
            ConsoleSession.id == live.id,
            ConsoleSession.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason=reason[:64])
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def revoke_sessions_for_user(uow: UnitOfWork, user_id: str, *, now: datetime, reason: str) -> int:
    """End every live session of one person, in the caller's transaction (so a password
    change or disabling and the sign-outs it implies commit together); how many ended."""
    result = uow.session.execute(
        update(ConsoleSession)
        .where(
            ConsoleSession.tenant_id == uow.tenant_id,
            ConsoleSession.user_id == user_id,
            ConsoleSession.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason=reason[:64])
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _touch(sessions: sessionmaker[Session], live: LiveSession, now: datetime) -> None:
    with UnitOfWork(sessions, tenant_id=live.tenant_id) as uow:
        uow.session.execute(
            update(ConsoleSession)
            .where(
                ConsoleSession.tenant_id == live.tenant_id,
                ConsoleSession.id == live.id,
                ConsoleSession.last_seen_at < now - SEEN_RESOLUTION,
            )
            .values(last_seen_at=now)
        )
        uow.commit()
