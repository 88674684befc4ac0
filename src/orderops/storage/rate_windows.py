"""Where rate-limit windows are counted, shared by every API process.

Two stores answer the same question, "add this many to the bucket's count in this window,
and tell me the count after", in one atomic step:

- ``DatabaseWindows`` (the default): one upsert on ``rate_limit_windows`` in a transaction
  bound to the tenant (row-level security on PostgreSQL). The row keeps only the current
  window: a later window replaces the count instead of adding to it.
- ``LimitsStorageWindows``: any ``limits`` storage, in practice ``RedisStorage`` when
  ``ORDEROPS_REDIS_URL`` is set. Each window is its own key, expiring when it ends, and the
  storage's ``incr`` is atomic (a Lua script on Redis).

Windows are named by the caller (aligned to the epoch, ``domain/rate_limits.py``), so both
stores count the same windows and tests move them with a clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from limits.storage import Storage, storage_from_string
from sqlalchemy import case, literal, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.errors import ConfigurationError
from orderops.domain.rate_limits import Window
from orderops.storage.base import UtcDateTime
from orderops.storage.tables.rate_limits import RateLimitWindow as Row
from orderops.storage.uow import UnitOfWork

REDIS_TIMEOUT_SECONDS = 0.5


class WindowCounts(Protocol):
    def add(
        self, *, tenant_id: str, bucket: str, window: Window, amount: int, now: datetime
    ) -> int:
        """Add ``amount`` to the bucket's count in ``window``; the count after."""


class DatabaseWindows:
    """Counts in ``rate_limit_windows``: one upsert (and its commit) per call."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def add(
        self, *, tenant_id: str, bucket: str, window: Window, amount: int, now: datetime
    ) -> int:
        ends = literal(window.ends_at, UtcDateTime())
        # A row of this window (or, from a process whose clock runs behind, of a later
        # one) is added to; an older window is replaced.
        current = Row.window_ends_at >= ends
        with UnitOfWork(self._sessions, tenant_id=tenant_id) as uow:
            dialect = uow.session.get_bind().dialect.name
            if dialect == "postgresql":
                # A count lost in a crash costs nothing; waiting for the WAL flush costs
                # most of the write (measured: benchmarks/noisy_tenant.py).
                uow.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = (
                insert(Row)
                .values(tenant_id=tenant_id, bucket=bucket, hits=amount, window_ends_at=ends)
                .on_conflict_do_update(
                    index_elements=[Row.tenant_id, Row.bucket],
                    set_={
                        "hits": case((current, Row.hits + amount), else_=amount),
                        "window_ends_at": case((current, Row.window_ends_at), else_=ends),
                    },
                )
                .returning(Row.hits)
            )
            hits = uow.session.execute(statement).scalar_one()
            uow.commit()
        return int(hits)


class LimitsStorageWindows:
    """Counts in a ``limits`` storage (Redis): one atomic ``incr`` per call."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @classmethod
    def at(cls, url: str) -> LimitsStorageWindows:
        """Over the storage a ``limits`` URL names (``redis://host:6379/0``). A Redis that
        does not answer fails a check within ``REDIS_TIMEOUT_SECONDS`` (and the limiter
        admits) rather than holding the request."""
        options = {}
        if url.startswith("redis"):
            options = {
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            }
        storage = storage_from_string(url, **options)
        if not isinstance(storage, Storage):
            scheme = url.split(":", 1)[0]  # never the whole URL: it may hold a password
            raise ConfigurationError(f"{scheme} names an asynchronous storage; use a sync one")
        return cls(storage)

    def add(
        self, *, tenant_id: str, bucket: str, window: Window, amount: int, now: datetime
    ) -> int:
        key = f"orderops/{tenant_id}/{bucket}/{window.seconds}/{window.index}"
        # Kept one window past its end, so a process whose clock lags still finds it.
        expiry = window.seconds_left(now) + window.seconds
        return int(self._storage.incr(key, expiry, amount=amount))
