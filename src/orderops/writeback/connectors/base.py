"""What every connector shares: the error vocabulary, the retry policy, the circuit breaker.

The outbox worker decides what to do with a failed writeback from the error's class alone:
``RetryableError`` (try again later, maybe after ``retry_after``), ``PermanentError`` (dead
letter with the vendor's reason), ``ConflictError`` (someone else changed the record: read
back and reconcile), ``CircuitOpen`` (the vendor is down for this tenant: do not even try).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from orderops.domain.clock import Clock
from orderops.domain.errors import OrderOpsError

T = TypeVar("T")


class ConnectorError(OrderOpsError):
    """A call to an external system failed; ``system`` and ``status`` say where and how."""

    code = "connector-error"

    def __init__(
        self,
        message: str,
        *,
        system: str,
        status: int | None = None,
        provider_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.system = system
        self.status = status
        self.provider_code = provider_code
        self.retry_after = retry_after


class RetryableError(ConnectorError):
    """Rate limit, 5xx, timeout or lost connection: the same request may succeed later."""

    code = "connector-retryable"


class PermanentError(ConnectorError):
    """The vendor refused the request (validation, auth, business rule); retrying won't help."""

    code = "connector-permanent"


class ConflictError(ConnectorError):
    """409: the record changed under us; read it back before deciding anything."""

    code = "connector-conflict"


class CircuitOpen(ConnectorError):
    """Recent calls to this system for this tenant kept failing; calls are paused."""

    code = "circuit-open"


def error_class_for_status(status: int) -> type[ConnectorError] | None:
    """Which error an HTTP status means, or None when it is a success."""
    if status < 400:
        return None
    if status in (408, 429) or status >= 500:
        return RetryableError
    if status == 409:
        return ConflictError
    return PermanentError


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how patiently one writeback attempt retries before giving up.

    Backoff before retry ``n`` (1-based) is ``initial_backoff * exp_base ** (n - 1)``, capped
    at ``max_backoff``, plus a uniform jitter in ``[0, jitter]`` so that workers retrying
    the same outage do not return in lockstep.

    Retry-After is honoured exactly when it is at most ``max_retry_after``; a longer one ends
    the attempt with the ``RetryableError`` (carrying ``retry_after``) so the outbox can
    reschedule instead of holding a worker asleep.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    exp_base: float = 2.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.initial_backoff, self.max_backoff, self.jitter, self.max_retry_after) < 0:
            raise ValueError("backoff, jitter and max_retry_after must not be negative")
        if self.exp_base < 1:
            raise ValueError("exp_base must be at least 1")

    def should_retry(self, error: BaseException) -> bool:
        if not isinstance(error, RetryableError):
            return False
        return error.retry_after is None or error.retry_after <= self.max_retry_after

    def wait_seconds(self, state: RetryCallState) -> float:
        """Retry-After when the vendor gave one, else exponential backoff with jitter."""
        error = state.outcome.exception() if state.outcome is not None else None
        if isinstance(error, RetryableError) and error.retry_after is not None:
            return error.retry_after
        backoff = wait_exponential(
            multiplier=self.initial_backoff, max=self.max_backoff, exp_base=self.exp_base
        ) + wait_random(0, self.jitter)
        return float(backoff(state))

    def run(self, operation: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
        """Call ``operation`` until it succeeds, fails for good, or attempts run out."""
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self.wait_seconds,
            retry=retry_if_exception(self.should_retry),
            sleep=sleep,
            reraise=True,
        )
        return retrying(operation)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerKey:
    """One circuit per external system and tenant: one shop's outage must not stop another's."""

    system: str
    tenant_id: str


@dataclass
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    trial_in_flight: bool = False


class CircuitBreaker:
    """Counts consecutive failures per key; opens at the threshold, half-opens after cooldown.

    Half-open lets exactly one trial call through; its success closes the circuit, its
    failure opens it again for a fresh cooldown. Time comes from the injected clock.
    """

    def __init__(
        self,
        *,
        clock: Clock,
        failure_threshold: int = 5,
        cooldown: timedelta = timedelta(seconds=30),
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self._clock = clock
        self._threshold = failure_threshold
        self._cooldown = cooldown.total_seconds()
        self._lock = threading.Lock()
        self._circuits: dict[BreakerKey, _Circuit] = {}

    def state(self, key: BreakerKey) -> BreakerState:
        with self._lock:
            return self._state(self._circuits.get(key, _Circuit()))

    def before_call(self, key: BreakerKey) -> None:
        """Admit a call or raise ``CircuitOpen`` with the seconds left in the cooldown."""
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            state = self._state(circuit)
            if state is BreakerState.CLOSED:
                return
            if state is BreakerState.HALF_OPEN and not circuit.trial_in_flight:
                circuit.trial_in_flight = True
                return
            raise CircuitOpen(
                f"circuit for {key.system} (tenant {key.tenant_id}) is open",
                system=key.system,
                retry_after=self._remaining(circuit),
            )

    def record_success(self, key: BreakerKey) -> None:
        with self._lock:
            self._circuits[key] = _Circuit()

    def record_failure(self, key: BreakerKey) -> None:
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            was_trial = circuit.trial_in_flight
            circuit.trial_in_flight = False
            circuit.failures += 1
            if was_trial or circuit.failures >= self._threshold:
                circuit.opened_at = self._now()

    def _state(self, circuit: _Circuit) -> BreakerState:
        if circuit.opened_at is None:
            return BreakerState.CLOSED
        if self._now() - circuit.opened_at >= self._cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def _remaining(self, circuit: _Circuit) -> float:
        if circuit.opened_at is None:
            return 0.0
        return max(0.0, self._cooldown - (self._now() - circuit.opened_at))

    def _now(self) -> float:
        return self._clock.now().timestamp()
