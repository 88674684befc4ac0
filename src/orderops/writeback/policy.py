"""How the outbox paces a message across attempts: backoff, Retry-After, leases, give-up.

Pure: the worker passes the attempt count, the vendor's Retry-After and a random number,
and gets back when to try again. Within one attempt the connectors' own RetryPolicy
retries quickly; across attempts this policy spaces them out so an outage is ridden out
without hammering the vendor, and workers that failed together do not return together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True, kw_only=True)
class DeliveryPolicy:
    max_attempts: int = 8
    """Attempts (claims) before a retryable failure becomes a dead letter."""
    base_delay: timedelta = timedelta(seconds=5)
    max_delay: timedelta = timedelta(hours=1)
    jitter: float = 0.5
    """Fraction of the backoff that is randomised: delay in [backoff * (1 - jitter), backoff]."""
    lease: timedelta = timedelta(seconds=60)
    """How long a claim is exclusive; a worker that dies frees its messages after this."""
    confirm_delay: timedelta = timedelta(seconds=5)
    """Wait before retrying a read-back that could not confirm the effect."""
    batch_size: int = 10

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.batch_size < 1:
            raise ValueError("max_attempts and batch_size must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a fraction between 0 and 1")
        if self.lease <= timedelta(0):
            raise ValueError("a lease must last some time")
        if min(self.base_delay, self.max_delay, self.confirm_delay) < timedelta(0):
            raise ValueError("delays must not be negative")

    def retry_delay(self, *, attempts: int, retry_after: float | None, rand: float) -> timedelta:
        """Exponential backoff after ``attempts`` tries, jittered, never before Retry-After.

        ``rand`` is uniform in [0, 1). A Retry-After longer than ``max_delay`` is still
        honoured: the vendor said when it will accept us, and earlier is wasted.
        """
        exponent = max(0, attempts - 1)
        factor: float = 2.0**exponent
        backoff = min(self.max_delay, self.base_delay * factor)
        delay = backoff * (1 - self.jitter) + backoff * self.jitter * rand
        if retry_after is not None:
            delay = max(delay, timedelta(seconds=retry_after))
        return delay

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
