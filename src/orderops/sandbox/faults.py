"""Fault plans: which of the next requests a sandbox answers badly, and how.

A fault is consumed by the first matching request, ``count`` times. The kinds are the
failure shapes a writeback worker meets in production; ``CRASH_AFTER_EFFECT`` and
``DROP_AFTER_EFFECT`` apply the effect first and then fail, which is the case that turns a
naive retry into a double refund.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from enum import StrEnum

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class FaultKind(StrEnum):
    RATE_LIMIT = "rate_limit"
    """429 with a Retry-After header; no effect."""
    SERVER_ERROR = "server_error"
    """A 5xx before the effect (default 503)."""
    CONFLICT = "conflict"
    """409 before the effect."""
    VALIDATION = "validation"
    """A 4xx validation error before the effect (default 422)."""
    SLOW = "slow"
    """Wait ``delay`` seconds, then handle the request normally (the effect still happens)."""
    CRASH_AFTER_EFFECT = "crash_after_effect"
    """Apply the effect, record it, then answer 500 instead of the real response."""
    DROP_AFTER_EFFECT = "drop_after_effect"
    """Apply the effect, record it, then close the connection mid-response."""


AFTER_EFFECT_KINDS = frozenset({FaultKind.CRASH_AFTER_EFFECT, FaultKind.DROP_AFTER_EFFECT})

DEFAULT_STATUS: dict[FaultKind, int] = {
    FaultKind.RATE_LIMIT: 429,
    FaultKind.SERVER_ERROR: 503,
    FaultKind.CONFLICT: 409,
    FaultKind.VALIDATION: 422,
    FaultKind.SLOW: 200,
    FaultKind.CRASH_AFTER_EFFECT: 500,
    FaultKind.DROP_AFTER_EFFECT: 500,
}


@dataclass(frozen=True, kw_only=True)
class Fault:
    """One injected failure, matched by method and path fragment.

    Faults that fire after the effect only match writes: a read has no effect to duplicate,
    so letting it consume the fault would hide the case the test is about.
    """

    kind: FaultKind
    count: int = 1
    status: int | None = None
    retry_after: float = 1.0
    delay: float = 0.0
    method: str | None = None
    path_contains: str | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("a fault must fire at least once")
        if self.delay < 0 or self.retry_after < 0:
            raise ValueError("delay and retry_after must not be negative")

    @property
    def effective_status(self) -> int:
        return self.status if self.status is not None else DEFAULT_STATUS[self.kind]

    def matches(self, method: str, path: str) -> bool:
        method = method.upper()
        if self.kind in AFTER_EFFECT_KINDS and method in READ_METHODS:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        return self.path_contains is None or self.path_contains in path


class FaultPlan:
    """Thread-safe queue of pending faults; tests add, the server consumes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._pending.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._pending)

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one firing of the first fault matching this request, if any."""
        with self._lock:
            for index, fault in enumerate(self._pending):
                if not fault.matches(method, path):
                    continue
                if fault.count == 1:
                    del self._pending[index]
                else:
                    self._pending[index] = replace(fault, count=fault.count - 1)
                return fault
            return None
