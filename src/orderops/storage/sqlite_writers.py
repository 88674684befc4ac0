"""First come, first served for SQLite's one writer among the threads of a process.

SQLite lets one transaction write at a time and makes the others poll: a waiting
``BEGIN IMMEDIATE`` sleeps in growing steps (up to 100 ms) between tries. A thread that
commits and begins again at once (the worker draining chunk after chunk) wins every
race against threads that are asleep between tries, so in the demo a reviewer's sign-in
waited out the whole drain (10-40 s on a loaded machine) and then failed with "database
is locked". Here writers of one process queue in arrival order and the lock is handed to
the next one when a write transaction ends, a person's before background work: threads
marked ``in_background`` (the worker's loops, the demo's simulated store) wait while a
request's writer is waiting, since a sign-in is several short transactions and a worker's
chunk one long one. Writers in other processes still meet SQLite's own polling; a writer
that waited past the busy timeout goes ahead to SQLite, which then answers as it always
did.
"""

from __future__ import annotations

import threading
from collections import deque

HOLDS = "orderops_sqlite_writer"
"""Key in a connection's ``info``: set while the connection holds this process's turn."""

_thread = threading.local()


def in_background() -> None:
    """Mark the calling thread as background work: its writes let requests go first."""
    _thread.background = True


class WriterQueue:
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._lock = threading.Lock()
        self._waiting: deque[tuple[int, threading.Event]] = deque()
        self._behind: deque[tuple[int, threading.Event]] = deque()
        """Background writers: served when no request's writer waits."""
        self._owner: int | None = None

    def enter(self) -> bool:
        """Wait for this thread's turn; False when it goes ahead without one (it waited
        past the timeout, or it already holds the turn through another connection, which
        SQLite itself will refuse rather than this queue hang)."""
        me = threading.get_ident()
        with self._lock:
            if self._owner == me:
                return False
            if self._owner is None:
                self._owner = me
                return True
            turn = (me, threading.Event())
            line = self._behind if getattr(_thread, "background", False) else self._waiting
            line.append(turn)
        if turn[1].wait(self._timeout):
            return True
        with self._lock:
            if turn in line:
                line.remove(turn)
                return False
        return True  # handed over between the timeout and taking the lock

    def leave(self) -> None:
        """End the holder's turn: hand it to the request waiting longest, else to the
        background writer waiting longest, if any."""
        with self._lock:
            line = self._waiting or self._behind
            if not line:
                self._owner = None
                return
            self._owner, turn = line.popleft()
        turn.set()
