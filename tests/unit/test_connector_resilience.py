"""RetryPolicy, CircuitBreaker and FaultPlan as tables: pure rules, no HTTP, time injected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.domain.clock import FixedClock
from orderops.domain.errors import OrderOpsError
from orderops.sandbox.faults import Fault, FaultKind, FaultPlan
from orderops.writeback.connectors.base import (
    BreakerKey,
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    ConflictError,
    PermanentError,
    RetryableError,
    RetryPolicy,
    error_class_for_status,
)
from orderops.writeback.connectors.transport import parse_retry_after

KEY = BreakerKey("stripe", "t-1")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, None),
        (201, None),
        (400, PermanentError),
        (401, PermanentError),
        (404, PermanentError),
        (408, RetryableError),
        (409, ConflictError),
        (422, PermanentError),
        (429, RetryableError),
        (500, RetryableError),
        (503, RetryableError),
    ],
)
def test_status_classification(status: int, expected: type[Exception] | None) -> None:
    assert error_class_for_status(status) is expected


def test_every_connector_error_is_an_orderops_error() -> None:
    for error_class in (RetryableError, PermanentError, ConflictError, CircuitOpen):
        assert issubclass(error_class, OrderOpsError)


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (RetryableError("x", system="s"), True),
        (RetryableError("x", system="s", retry_after=60), True),
        (RetryableError("x", system="s", retry_after=61), False),
        (PermanentError("x", system="s"), False),
        (ConflictError("x", system="s"), False),
        (CircuitOpen("x", system="s"), False),
        (ValueError("bug"), False),
    ],
)
def test_which_errors_are_retried(error: Exception, retried: bool) -> None:
    assert RetryPolicy(max_retry_after=60).should_retry(error) is retried


def test_backoff_grows_exponentially_with_bounded_jitter_and_a_cap() -> None:
    policy = RetryPolicy(max_attempts=6, initial_backoff=1, exp_base=2, max_backoff=5, jitter=0.5)
    waits: list[float] = []

    def fail() -> None:
        raise RetryableError("down", system="s")

    with pytest.raises(RetryableError):
        policy.run(fail, sleep=waits.append)

    bases = [1, 2, 4, 5, 5]
    assert len(waits) == len(bases)
    for wait, base in zip(waits, bases, strict=True):
        assert base <= wait <= base + 0.5


def test_retry_after_replaces_backoff() -> None:
    policy = RetryPolicy(max_attempts=2, initial_backoff=100, jitter=0)
    waits: list[float] = []
    calls = iter([RetryableError("slow down", system="s", retry_after=3.5), None])

    def flaky() -> str:
        error = next(calls)
        if error is not None:
            raise error
        return "done"

    assert policy.run(flaky, sleep=waits.append) == "done"
    assert waits == [3.5]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2", 2.0),
        ("2.0", 2.0),
        ("0.25", 0.25),
        ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
        ("", None),
        (None, None),
        ("soon", None),
    ],
)
def test_retry_after_header_forms(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()
    assert parse_retry_after(header, now) == seconds


def test_breaker_opens_at_threshold_and_half_opens_after_cooldown() -> None:
    clock = FixedClock(datetime(2026, 3, 1, tzinfo=UTC))
    breaker = CircuitBreaker(clock=clock, failure_threshold=3, cooldown=timedelta(seconds=10))

    for _ in range(2):
        breaker.before_call(KEY)
        breaker.record_failure(KEY)
    assert breaker.state(KEY) is BreakerState.CLOSED
    breaker.record_failure(KEY)
    assert breaker.state(KEY) is BreakerState.OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call(KEY)

    clock.advance(timedelta(seconds=10))
    assert breaker.state(KEY) is BreakerState.HALF_OPEN
    breaker.before_call(KEY)
    with pytest.raises(CircuitOpen):
        breaker.before_call(KEY)
    breaker.record_success(KEY)
    assert breaker.state(KEY) is BreakerState.CLOSED


def test_failed_trial_reopens_for_a_fresh_cooldown() -> None:
    clock = FixedClock(datetime(2026, 3, 1, tzinfo=UTC))
    breaker = CircuitBreaker(clock=clock, failure_threshold=1, cooldown=timedelta(seconds=10))
    breaker.record_failure(KEY)
    clock.advance(timedelta(seconds=10))

    breaker.before_call(KEY)
    breaker.record_failure(KEY)

    assert breaker.state(KEY) is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as raised:
        breaker.before_call(KEY)
    assert raised.value.retry_after == 10
    assert breaker.state(BreakerKey("stripe", "t-2")) is BreakerState.CLOSED


@pytest.mark.parametrize(
    ("fault", "method", "path", "matches"),
    [
        (Fault(kind=FaultKind.SERVER_ERROR), "GET", "/v1/x", True),
        (Fault(kind=FaultKind.CRASH_AFTER_EFFECT), "GET", "/v1/x", False),
        (Fault(kind=FaultKind.CRASH_AFTER_EFFECT), "POST", "/v1/x", True),
        (Fault(kind=FaultKind.CONFLICT, method="PUT"), "POST", "/v1/x", False),
        (Fault(kind=FaultKind.CONFLICT, path_contains="/buy"), "POST", "/v2/s/1/buy", True),
        (Fault(kind=FaultKind.CONFLICT, path_contains="/buy"), "POST", "/v2/s", False),
    ],
)
def test_fault_matching(fault: Fault, method: str, path: str, matches: bool) -> None:
    assert fault.matches(method, path) is matches


def test_fault_plan_consumes_count_then_stops() -> None:
    plan = FaultPlan()
    plan.add(Fault(kind=FaultKind.RATE_LIMIT, count=2))

    taken = [plan.take("GET", "/") for _ in range(3)]

    assert [f.kind if f else None for f in taken] == [FaultKind.RATE_LIMIT] * 2 + [None]
