"""Injected time. Nothing in OrderOps reads the wall clock directly.

Time-based checks (a promise passing, a timer firing) judge against ``Clock.now()``,
so tests can fix time and the demo can run a simulated store in accelerated time.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to; for tests and batch evaluation."""

    def __init__(self, at: datetime) -> None:
        self._at = ensure_utc(at)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = ensure_utc(at)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._at += delta


class AcceleratedClock:
    """Simulated time running ``factor`` times faster than the wall clock from ``start``."""

    def __init__(self, start: datetime, factor: float, wall: Clock | None = None) -> None:
        self._start = ensure_utc(start)
        self._factor = factor
        self._wall = wall or SystemClock()
        self._wall_start = self._wall.now()

    def now(self) -> datetime:
        elapsed = self._wall.now() - self._wall_start
        return self._start + elapsed * self._factor


def ensure_utc(value: datetime) -> datetime:
    """Refuse naive datetimes: an event without a zone is ambiguous by hours."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: a timezone is required")
    return value.astimezone(UTC)
