"""Wake this process's worker when another process stores inbox rows (PostgreSQL only).

The accepting transaction's trigger (migration ``0027_inbox_notify``) sends
``NOTIFY orderops_inbox`` at commit; a thread here holds one connection that LISTENs and
turns each message into ``arrivals.announce()``, the same signal an accept in this process
gives. So a worker in its own process, or on another machine, starts on an event within a
round trip instead of at its next poll (``ORDEROPS_INBOX_POLL_SECONDS``).

Nothing depends on a message arriving: a lost connection is re-opened after a pause, and
the poll still finds every row. The connection is taken out of the pool for good (it sits
in LISTEN, outside any transaction) and closed when the worker stops.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

from orderops.ingest import arrivals

log = logging.getLogger(__name__)

CHANNEL = "orderops_inbox"
RECONNECT_SECONDS = 2.0
STOP_CHECK_SECONDS = 1.0


def start_listening(engine: Engine, stop: threading.Event) -> threading.Thread | None:
    """A daemon thread relaying notifications until ``stop``; None on a database without
    LISTEN (SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    thread = threading.Thread(
        target=_listen_until, args=(engine, stop), name="orderops-inbox-listen", daemon=True
    )
    thread.start()
    return thread


def _listen_until(engine: Engine, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            _relay(engine, stop)
        except Exception:  # a dropped connection, a restarted server: poll covers the gap
            log.warning("inbox notifications lost; reconnecting", exc_info=True)
            stop.wait(RECONNECT_SECONDS)


def _relay(engine: Engine, stop: threading.Event) -> None:
    pooled = engine.raw_connection()
    connection: Any = pooled.driver_connection
    pooled.detach()  # never returned to the pool in LISTEN state
    try:
        connection.autocommit = True
        connection.execute(f"LISTEN {CHANNEL}")
        arrivals.announce()  # rows stored while no one listened are found now
        while not stop.is_set():
            for _ in connection.notifies(timeout=STOP_CHECK_SECONDS):
                arrivals.announce()
    finally:
        pooled.close()
