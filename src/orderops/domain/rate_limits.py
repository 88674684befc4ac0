"""Rate limits as values: which limit applies, what a window holds, and what a caller is told.

A limit is a quota of requests per fixed window (``600 per 1 second``). Windows are aligned
to the epoch (a 1-second window ends on every whole second), so every process and every
storage (the database or Redis) agrees on which window a moment falls in without asking.
A window's count is shared by every API process; each process takes a *lease* of several
requests at a time from it and spends them locally (``tenancy/rate_limits.py``), so the
shared counter is written once per lease rather than once per request. The arithmetic of
that lease is here, free of I/O, so it can be tested by tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from orderops.domain.errors import OrderOpsError

LEASE_SHARE = 10
"""A lease is a tenth of the window's quota: at most ten shared writes per window and
process, while N processes can hold back at most N tenths of a window between them."""
MAX_LEASE = 100


class RateScope(StrEnum):
    """What a request spends: accepting input, or the rest of the API."""

    INGEST = "ingest"
    """``POST /v1/webhooks/{source}/{token}`` and ``POST /v1/events``."""
    API = "api"
    """Every other route a bearer key calls."""


class RatePartition(StrEnum):
    """Whose count a request adds to."""

    TENANT = "tenant"
    KEY = "key"


@dataclass(frozen=True)
class Quota:
    """``amount`` requests per window of ``seconds``."""

    amount: int
    seconds: int

    def __post_init__(self) -> None:
        if self.amount < 1 or self.seconds < 1:
            raise ValueError(f"a quota needs a positive amount and window, not {self}")

    def __str__(self) -> str:
        return f"{self.amount} per {self.seconds} second{'s' if self.seconds != 1 else ''}"

    def lease(self, share: int = LEASE_SHARE) -> int:
        """How many requests a process takes from the shared window at once: a ``share``th
        of the quota (one, when the share is at least the quota), at most ``MAX_LEASE``."""
        return max(1, min(self.amount // share, MAX_LEASE))


@dataclass(frozen=True)
class Window:
    """One fixed window of a quota: ``index`` counts windows since the epoch."""

    index: int
    seconds: int

    @classmethod
    def at(cls, moment: datetime, seconds: int) -> Window:
        return cls(index=math.floor(moment.timestamp() / seconds), seconds=seconds)

    @property
    def ends_at(self) -> datetime:
        return datetime.fromtimestamp((self.index + 1) * self.seconds, UTC)

    def seconds_left(self, now: datetime) -> int:
        """Whole seconds until the window ends (rounded up, so waiting that long is enough)."""
        return max(0, math.ceil((self.ends_at - now) / timedelta(seconds=1)))


def granted(*, count_after: int, asked: int, amount: int) -> int:
    """How much of a lease of ``asked`` the shared window granted, given its count after the
    lease was added: everything up to the quota, nothing past it. Adding first and working
    out the grant after keeps the shared step one atomic increment on any storage; the
    count may pass the quota, which only says the window is spent."""
    before = count_after - asked
    return max(0, min(asked, amount - before))


@dataclass(frozen=True)
class Limit:
    """A quota as it applies to one scope and partition."""

    scope: RateScope
    partition: RatePartition
    quota: Quota

    @property
    def policy(self) -> str:
        """The name clients see in ``RateLimit-Policy`` and ``RateLimit`` (``ingest-tenant``)."""
        return f"{self.scope}-{self.partition}"


@dataclass(frozen=True)
class Verdict:
    """One limit's answer to one request."""

    limit: Limit
    allowed: bool
    remaining: int
    """Requests left in the window after this one (an estimate across processes)."""
    reset_after: int
    """Whole seconds until the window ends and the quota is whole again."""


@dataclass(frozen=True)
class Admission:
    """Every limit a request was held to, in the order they were checked; checking stops at
    the first refusal, so a refused request spends nothing on the limits after it."""

    verdicts: tuple[Verdict, ...]

    @property
    def allowed(self) -> bool:
        return all(verdict.allowed for verdict in self.verdicts)

    @property
    def retry_after(self) -> int:
        """Seconds to wait before the refusing limits admit a request again (at least 1)."""
        waits = [v.reset_after for v in self.verdicts if not v.allowed]
        return max(1, *waits) if waits else 0

    @property
    def refused_by(self) -> Verdict | None:
        return next((v for v in self.verdicts if not v.allowed), None)


class RateLimited(OrderOpsError):
    """Over a rate limit: nothing was done, and the same request later will be (429)."""

    code = "rate-limited"

    def __init__(self, admission: Admission, *, tenant_id: str) -> None:
        refused = admission.refused_by
        if refused is None:
            raise ValueError("an admitted request is not rate limited")
        limit = refused.limit
        super().__init__(
            f"tenant {tenant_id} is over its {limit.scope} limit per {limit.partition} "
            f"({limit.quota}); retry after {admission.retry_after} s"
        )
        self.admission = admission
        self.policy = limit.policy
