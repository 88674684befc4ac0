"""Database errors that say "try again", told apart from errors that say "this is wrong".

A deadlock, a serialization failure, a lock wait that timed out, SQLite's "database is
locked" or a dropped connection is about timing, not about the row being written: the
same work succeeds when repeated. Callers retry those whole transactions and must not
count them against the work itself (an event's attempts, say), or two workers racing
would dead-letter perfectly good events.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from enum import StrEnum

from sqlalchemy.exc import DBAPIError, SQLAlchemyError


class TransientKind(StrEnum):
    """A closed set, usable as a metric label."""

    DEADLOCK = "deadlock"
    SERIALIZATION_FAILURE = "serialization_failure"
    LOCK_TIMEOUT = "lock_timeout"
    DATABASE_LOCKED = "database_locked"
    CONNECTION_LOST = "connection_lost"


_SQLSTATES: dict[str, TransientKind] = {
    "40001": TransientKind.SERIALIZATION_FAILURE,
    "40P01": TransientKind.DEADLOCK,
    "55P03": TransientKind.LOCK_TIMEOUT,  # lock_not_available: NOWAIT, lock_timeout
    "57P01": TransientKind.CONNECTION_LOST,  # admin_shutdown
    "57P02": TransientKind.CONNECTION_LOST,  # crash_shutdown
    "57P03": TransientKind.CONNECTION_LOST,  # cannot_connect_now (server starting)
}
"""PostgreSQL SQLSTATEs (Appendix A of its manual); class 08 (connection) is added below."""

_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def transient_kind(exc: BaseException) -> TransientKind | None:
    """The kind of transient database error ``exc`` is (or wraps), or None."""
    for error in _chain(exc):
        if not isinstance(error, DBAPIError):
            continue
        if error.connection_invalidated:
            return TransientKind.CONNECTION_LOST
        state = sqlstate(error)
        if state in _SQLSTATES:
            return _SQLSTATES[state]
        if state is not None and state.startswith("08"):
            return TransientKind.CONNECTION_LOST
        if isinstance(error.orig, sqlite3.OperationalError) and any(
            text in str(error.orig).lower() for text in _SQLITE_BUSY
        ):
            return TransientKind.DATABASE_LOCKED
    return None


def sqlstate(error: DBAPIError) -> str | None:
    """The SQLSTATE the driver reported (psycopg 3 ``sqlstate``, psycopg 2 ``pgcode``)."""
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return state if isinstance(state, str) else None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The error and, through SQLAlchemy's own errors only, what caused it.

    A savepoint whose rollback failed on a dropped connection raises the rollback's error
    with the first one as its context. The walk stops at any other kind of error, so a
    bug raised while handling some earlier database error is never mistaken for timing
    (it would otherwise be retried for ever instead of being dead-lettered).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if not isinstance(current, SQLAlchemyError):
            return
        current = current.__cause__ or current.__context__
