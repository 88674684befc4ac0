"""The pure rules of writeback: backoff, what an outcome makes of a message, saga references."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.domain.errors import IllegalTransition
from orderops.writeback.outcomes import Outcome, OutcomeKind, decide
from orderops.writeback.policy import DeliveryPolicy
from orderops.writeback.sagas import Effect, InvalidSaga, SagaStep, resolve, validate
from orderops.writeback.states import OutboxStatus, check_outbox_move

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = DeliveryPolicy(
    max_attempts=5,
    base_delay=timedelta(seconds=10),
    max_delay=timedelta(minutes=5),
    jitter=0.5,
    confirm_delay=timedelta(seconds=30),
)


@pytest.mark.parametrize(
    ("attempts", "retry_after", "rand", "seconds"),
    [
        (1, None, 0.0, 5.0),  # 10 s backoff, lowest jitter: half of it
        (1, None, 0.999999, 10.0),
        (2, None, 0.0, 10.0),  # doubled
        (3, None, 0.5, 30.0),  # 40 s backoff, jitter in [20, 40]
        (10, None, 0.999999, 300.0),  # capped at max_delay
        (1, 120.0, 0.0, 120.0),  # Retry-After beats a shorter backoff
        (3, 1.0, 0.5, 30.0),  # a shorter Retry-After does not shorten the backoff
        (1, 3600.0, 0.0, 3600.0),  # honoured even beyond max_delay
    ],
)
def test_retry_delay_is_jittered_exponential_capped_and_never_before_retry_after(
    attempts: int, retry_after: float | None, rand: float, seconds: float
) -> None:
    delay = POLICY.retry_delay(attempts=attempts, retry_after=retry_after, rand=rand)
    assert delay.total_seconds() == pytest.approx(seconds, abs=1e-3)


@pytest.mark.parametrize(
    ("kind", "attempts", "status", "attempt", "due_in", "dead_letter"),
    [
        (OutcomeKind.DELIVERED, 1, "delivered", "delivered", None, None),
        (OutcomeKind.CONFLICT, 1, "conflict", "conflict", None, None),
        (OutcomeKind.FAILED, 1, "failed", "failed", None, "permanent error: boom"),
        (OutcomeKind.RETRY, 1, "pending", "retry", 7.5, None),
        (OutcomeKind.RETRY, 4, "pending", "retry", 60.0, None),
        (OutcomeKind.RETRY, 5, "failed", "failed", None, "gave up after 5 attempts"),
        (OutcomeKind.UNCONFIRMED, 2, "unconfirmed", "unconfirmed", 30.0, None),
        (OutcomeKind.UNCONFIRMED, 5, "failed", "failed", None, "never confirmed"),
        (OutcomeKind.DEFERRED, 5, "pending", "deferred", 7.5, None),
    ],
)
def test_each_outcome_decides_the_next_status_and_schedule(
    kind: OutcomeKind,
    attempts: int,
    status: str,
    attempt: str,
    due_in: float | None,
    dead_letter: str | None,
) -> None:
    decision = decide(
        Outcome(kind=kind, error="boom"), attempts=attempts, policy=POLICY, now=NOW, rand=0.5
    )
    assert (decision.status, decision.attempt) == (status, attempt)
    due = decision.next_attempt_at
    assert (None if due is None else (due - NOW).total_seconds()) == due_in
    if dead_letter is None:
        assert decision.dead_letter_reason is None
    else:
        assert dead_letter in (decision.dead_letter_reason or "")


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT, True),
        (OutboxStatus.PENDING, OutboxStatus.CANCELLED, True),
        (OutboxStatus.IN_FLIGHT, OutboxStatus.CANCELLED, False),
        (OutboxStatus.DELIVERED, OutboxStatus.PENDING, False),
        (OutboxStatus.FAILED, OutboxStatus.PENDING, True),
        (OutboxStatus.CONFLICT, OutboxStatus.PENDING, True),
        (OutboxStatus.CANCELLED, OutboxStatus.PENDING, True),
        (OutboxStatus.UNCONFIRMED, OutboxStatus.DELIVERED, False),
    ],
)
def test_outbox_moves_follow_the_table(
    current: OutboxStatus, target: OutboxStatus, allowed: bool
) -> None:
    if allowed:
        assert check_outbox_move(current, target) is target
    else:
        with pytest.raises(IllegalTransition):
            check_outbox_move(current, target)


def test_references_are_filled_from_earlier_results_at_any_depth() -> None:
    template = {
        "shipment_id": {"$ref": "shipment.shipment_id"},
        "lines": [{"sku": {"$ref": "reserve.sku"}}, "fixed"],
        "note": "kept",
    }
    results = {"shipment": {"shipment_id": "shp_1"}, "reserve": {"sku": "SKU-1"}}

    assert resolve(template, results) == {
        "shipment_id": "shp_1",
        "lines": [{"sku": "SKU-1"}, "fixed"],
        "note": "kept",
    }
    with pytest.raises(KeyError):
        resolve(template, {"shipment": {}})


def step(name: str, payload: dict[str, object], undo: dict[str, object] | None = None) -> SagaStep:
    return SagaStep(
        name=name,
        effect=Effect(system="wms", operation="reserve", payload=payload),
        undo=None if undo is None else Effect(system="wms", operation="release", payload=undo),
    )


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ([], "at least one step"),
        ([step("a", {}), step("a", {})], "used twice"),
        ([step("a", {"x": {"$ref": "b.id"}}), step("b", {})], "later or unknown"),
        ([step("a", {}, undo={"x": {"$ref": "c.id"}})], "undo of a"),
    ],
)
def test_a_saga_that_could_not_run_is_refused_before_anything_is_queued(
    steps: list[SagaStep], problem: str
) -> None:
    with pytest.raises(InvalidSaga, match=problem):
        validate(steps)


def test_an_undo_may_refer_to_its_own_step() -> None:
    validate([step("a", {}, undo={"id": {"$ref": "a.reservation_id"}})])
