"""What one delivery attempt came to, and what the message becomes because of it.

The worker turns connector results and errors into an ``Outcome`` (no database); ``decide``
turns an outcome into the message's next status and schedule (pure, tested by tables);
the results module writes that decision down.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from orderops.writeback.policy import DeliveryPolicy
from orderops.writeback.registry import Difference
from orderops.writeback.states import AttemptOutcome, OutboxStatus

EXCERPT_CHARS = 500


class OutcomeKind(StrEnum):
    DELIVERED = "delivered"
    """Written (or found written by an earlier attempt) and confirmed by a read-back."""
    UNCONFIRMED = "unconfirmed"
    """Written, but the read-back did not show it yet."""
    RETRY = "retry"
    """A transient failure: rate limit, 5xx, timeout, lost connection, 409."""
    DEFERRED = "deferred"
    """Not attempted: the circuit for this system and tenant is open."""
    CONFLICT = "conflict"
    """The precheck found the world changed since the decision; nothing was written."""
    FAILED = "failed"
    """The vendor refused for good, or the message cannot be delivered as written."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    kind: OutcomeKind
    result: dict[str, Any] | None = None
    differences: tuple[Difference, ...] = ()
    error: str | None = None
    retry_after: float | None = None
    response_status: int | None = None
    response_excerpt: str | None = None


@dataclass(frozen=True, kw_only=True)
class Decision:
    status: OutboxStatus
    attempt: AttemptOutcome
    next_attempt_at: datetime | None = None
    """When the message is due again (for pending and unconfirmed)."""
    dead_letter_reason: str | None = None

    @property
    def settled(self) -> bool:
        return self.status in (OutboxStatus.DELIVERED, OutboxStatus.FAILED, OutboxStatus.CONFLICT)


def decide(
    outcome: Outcome, *, attempts: int, policy: DeliveryPolicy, now: datetime, rand: float
) -> Decision:
    """The next status for a message that has now been claimed ``attempts`` times."""
    kind = outcome.kind
    if kind is OutcomeKind.DELIVERED:
        return Decision(status=OutboxStatus.DELIVERED, attempt=AttemptOutcome.DELIVERED)
    if kind is OutcomeKind.CONFLICT:
        return Decision(status=OutboxStatus.CONFLICT, attempt=AttemptOutcome.CONFLICT)
    if kind is OutcomeKind.FAILED:
        return Decision(
            status=OutboxStatus.FAILED,
            attempt=AttemptOutcome.FAILED,
            dead_letter_reason=f"permanent error: {outcome.error}",
        )
    if kind is OutcomeKind.DEFERRED:
        wait = policy.retry_delay(attempts=1, retry_after=outcome.retry_after, rand=rand)
        return Decision(
            status=OutboxStatus.PENDING,
            attempt=AttemptOutcome.DEFERRED,
            next_attempt_at=now + wait,
        )
    if policy.exhausted(attempts):
        what = "never confirmed" if kind is OutcomeKind.UNCONFIRMED else "still failing"
        return Decision(
            status=OutboxStatus.FAILED,
            attempt=AttemptOutcome.FAILED,
            dead_letter_reason=f"gave up after {attempts} attempts, {what}: {outcome.error}",
        )
    if kind is OutcomeKind.UNCONFIRMED:
        return Decision(
            status=OutboxStatus.UNCONFIRMED,
            attempt=AttemptOutcome.UNCONFIRMED,
            next_attempt_at=now + policy.confirm_delay,
        )
    wait = policy.retry_delay(attempts=attempts, retry_after=outcome.retry_after, rand=rand)
    return Decision(
        status=OutboxStatus.PENDING, attempt=AttemptOutcome.RETRY, next_attempt_at=now + wait
    )


def excerpt(value: Any) -> str:
    """A bounded, readable rendering of a vendor answer for the attempts table."""
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
