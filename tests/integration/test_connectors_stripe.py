"""StripeConnector against the Stripe sandbox: every fault kind, replays, breaker, auth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from orderops.domain.clock import FixedClock
from orderops.sandbox import AppSlot, Fault, FaultKind, run_sandbox
from orderops.sandbox.stripe import StripeSandbox
from orderops.writeback.connectors.base import (
    BreakerKey,
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    ConflictError,
    PermanentError,
    RetryableError,
    RetryPolicy,
)
from orderops.writeback.connectors.stripe import StripeConnector
from orderops.writeback.connectors.transport import ConnectorOptions

KEY = "sk_test_orderops"
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002, jitter=0.0)
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class RecordingSleep:
    """Stands in for time.sleep: remembers each wait instead of spending it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[AppSlot, str]]:
    slot = AppSlot()
    with run_sandbox(slot) as url:
        yield slot, url


@pytest.fixture
def sandbox(served: tuple[AppSlot, str]) -> StripeSandbox:
    fresh = StripeSandbox(api_key=KEY)
    served[0].app = fresh.app
    return fresh


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def connector(
    served: tuple[AppSlot, str], sandbox: StripeSandbox, sleep: RecordingSleep
) -> Iterator[StripeConnector]:
    options = ConnectorOptions(tenant_id="t-1", retry=FAST, sleep=sleep)
    with StripeConnector(base_url=served[1], api_key=KEY, options=options) as made:
        yield made


def refunds_in_ledger(sandbox: StripeSandbox) -> list[int]:
    return [entry.data["amount"] for entry in sandbox.control.ledger.entries("refund.created")]


def test_refund_moves_money_once_and_reports_it(
    sandbox: StripeSandbox, connector: StripeConnector
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)

    result = connector.refund(
        payment_intent=intent, amount_minor=1700, idempotency_key="ik-1", metadata={"case": "c-9"}
    )

    assert (result.payment_intent, result.amount_minor, result.currency) == (intent, 1700, "usd")
    assert result.metadata == {"case": "c-9"}
    assert result.replayed is False
    assert refunds_in_ledger(sandbox) == [1700]


def test_second_call_with_same_key_is_a_replay_not_a_second_refund(
    sandbox: StripeSandbox, connector: StripeConnector
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)

    first = connector.refund(payment_intent=intent, amount_minor=1000, idempotency_key="ik-2")
    second = connector.refund(payment_intent=intent, amount_minor=1000, idempotency_key="ik-2")

    assert second.replayed is True
    assert second.refund_id == first.refund_id
    assert refunds_in_ledger(sandbox) == [1000]


def test_rate_limit_waits_exactly_the_retry_after_then_succeeds(
    sandbox: StripeSandbox, connector: StripeConnector, sleep: RecordingSleep
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)
    sandbox.control.inject(Fault(kind=FaultKind.RATE_LIMIT, retry_after=7))

    result = connector.refund(payment_intent=intent, amount_minor=500, idempotency_key="ik-3")

    assert sleep.waits == [7.0]
    assert result.amount_minor == 500
    assert refunds_in_ledger(sandbox) == [500]


def test_retry_after_longer_than_policy_allows_is_handed_back_to_the_outbox(
    sandbox: StripeSandbox, connector: StripeConnector, sleep: RecordingSleep
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)
    sandbox.control.inject(Fault(kind=FaultKind.RATE_LIMIT, retry_after=3600))

    with pytest.raises(RetryableError) as raised:
        connector.refund(payment_intent=intent, amount_minor=500, idempotency_key="ik-4")

    assert raised.value.retry_after == 3600
    assert sleep.waits == []
    assert refunds_in_ledger(sandbox) == []


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_until_success(
    sandbox: StripeSandbox, connector: StripeConnector, sleep: RecordingSleep, status: int
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)
    sandbox.control.inject(Fault(kind=FaultKind.SERVER_ERROR, status=status, count=2))

    result = connector.refund(payment_intent=intent, amount_minor=800, idempotency_key="ik-5")

    assert len(sleep.waits) == 2
    assert result.amount_minor == 800
    assert refunds_in_ledger(sandbox) == [800]


def test_server_errors_beyond_max_attempts_raise_retryable(
    sandbox: StripeSandbox, connector: StripeConnector, sleep: RecordingSleep
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)
    sandbox.control.inject(Fault(kind=FaultKind.SERVER_ERROR, count=FAST.max_attempts))

    with pytest.raises(RetryableError) as raised:
        connector.refund(payment_intent=intent, amount_minor=800, idempotency_key="ik-6")

    assert raised.value.status == 503
    assert len(sleep.waits) == FAST.max_attempts - 1
    assert refunds_in_ledger(sandbox) == []


def test_timeout_is_retried_and_the_late_first_request_does_not_refund_twice(
    served: tuple[AppSlot, str], sandbox: StripeSandbox, sleep: RecordingSleep
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)
    sandbox.control.inject(Fault(kind=FaultKind.SLOW, delay=0.4))
    options = ConnectorOptions(
        tenant_id="t-1", retry=FAST, sleep=sleep, timeout=httpx.Timeout(0.15)
    )

    with StripeConnector(base_url=served[1], api_key=KEY, options=options) as impatient:
        result = impatient.refund(payment_intent=intent, amount_minor=300, idempotency_key="ik-7")
    assert sandbox.control.wait_idle(timeout=5)

    assert len(sleep.waits) == 1
    assert result.amount_minor == 300
    assert refunds_in_ledger(sandbox) == [300]


@pytest.mark.parametrize("status", [400, 402, 404, 422])
def test_validation_errors_are_permanent_and_not_retried(
    sandbox: StripeSandbox, connector: StripeConnector, sleep: RecordingSleep, status: int
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)
    sandbox.control.inject(Fault(kind=FaultKind.VALIDATION, status=status))

    with pytest.raises(PermanentError) as raised:
        connector.refund(payment_intent=intent, amount_minor=300, idempotency_key="ik-8")

    assert raised.value.status == status
    assert sleep.waits == []
    assert refunds_in_ledger(sandbox) == []


def test_over_refund_is_permanent_with_stripes_code(
    sandbox: StripeSandbox, connector: StripeConnector, sleep: RecordingSleep
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)

    with pytest.raises(PermanentError) as raised:
        connector.refund(payment_intent=intent, amount_minor=4201, idempotency_key="ik-9")

    assert raised.value.provider_code == "amount_too_large"
    assert sleep.waits == []


def test_conflict_surfaces_as_conflict_error_without_retry(
    sandbox: StripeSandbox, connector: StripeConnector, sleep: RecordingSleep
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)
    sandbox.control.inject(Fault(kind=FaultKind.CONFLICT))

    with pytest.raises(ConflictError) as raised:
        connector.refund(payment_intent=intent, amount_minor=300, idempotency_key="ik-10")

    assert raised.value.status == 409
    assert sleep.waits == []


@pytest.mark.parametrize("kind", [FaultKind.CRASH_AFTER_EFFECT, FaultKind.DROP_AFTER_EFFECT])
def test_crash_after_effect_then_retry_leaves_exactly_one_refund(
    sandbox: StripeSandbox, connector: StripeConnector, sleep: RecordingSleep, kind: FaultKind
) -> None:
    intent = sandbox.add_payment_intent(amount=4200)
    sandbox.control.inject(Fault(kind=kind))

    result = connector.refund(payment_intent=intent, amount_minor=2100, idempotency_key="ik-11")

    assert len(sleep.waits) == 1
    assert result.replayed is True
    assert refunds_in_ledger(sandbox) == [2100]
    assert [r.amount_minor for r in connector.list_refunds(intent)] == [2100]


def test_wrong_api_key_is_permanent(served: tuple[AppSlot, str], sandbox: StripeSandbox) -> None:
    intent = sandbox.add_payment_intent(amount=4200)
    options = ConnectorOptions(tenant_id="t-1", retry=FAST, sleep=RecordingSleep())

    with (
        StripeConnector(base_url=served[1], api_key="sk_test_wrong", options=options) as wrong,
        pytest.raises(PermanentError) as raised,
    ):
        wrong.refund(payment_intent=intent, amount_minor=100, idempotency_key="ik-12")

    assert raised.value.status == 401
    assert raised.value.provider_code == "api_key_invalid"


def test_breaker_opens_after_failures_and_half_opens_after_cooldown(
    served: tuple[AppSlot, str], sandbox: StripeSandbox
) -> None:
    clock = FixedClock(START)
    breaker = CircuitBreaker(clock=clock, failure_threshold=2, cooldown=timedelta(seconds=30))
    options = ConnectorOptions(
        tenant_id="t-1", retry=FAST, breaker=breaker, clock=clock, sleep=RecordingSleep()
    )
    intent = sandbox.add_payment_intent(amount=4200)
    sandbox.control.inject(Fault(kind=FaultKind.SERVER_ERROR, count=10))
    key = BreakerKey("stripe", "t-1")

    with StripeConnector(base_url=served[1], api_key=KEY, options=options) as guarded:
        with pytest.raises(CircuitOpen) as opened:
            guarded.refund(payment_intent=intent, amount_minor=100, idempotency_key="ik-13")
        assert breaker.state(key) is BreakerState.OPEN
        assert breaker.state(BreakerKey("stripe", "t-2")) is BreakerState.CLOSED
        assert opened.value.retry_after == 30
        assert sandbox.control.faults.pending()[0].count == 8

        clock.advance(timedelta(seconds=30))
        assert breaker.state(key) is BreakerState.HALF_OPEN
        sandbox.control.faults.clear()
        result = guarded.refund(payment_intent=intent, amount_minor=100, idempotency_key="ik-13")

    assert breaker.state(key) is BreakerState.CLOSED
    assert refunds_in_ledger(sandbox) == [result.amount_minor]


def test_capture_cancel_and_read_back(sandbox: StripeSandbox, connector: StripeConnector) -> None:
    held = sandbox.add_payment_intent(amount=3000, status="requires_capture")
    doomed = sandbox.add_payment_intent(amount=1000, status="requires_capture")

    captured = connector.capture(payment_intent=held, idempotency_key="cap-1", amount_minor=2500)
    canceled = connector.cancel(
        payment_intent=doomed, idempotency_key="can-1", cancellation_reason="fraudulent"
    )

    assert (captured.status, captured.amount_received_minor) == ("succeeded", 2500)
    assert canceled.status == "canceled"
    assert connector.get_payment_intent(held) == captured
    assert connector.get_payment_intent(doomed).status == "canceled"
