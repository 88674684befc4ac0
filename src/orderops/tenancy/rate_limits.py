"""The rate limiter the API asks before doing a request's work, per tenant and per API key.

Every request of a scope (``ingest``, ``api``) is held to the tenant's limit for that
scope and, when it carries a key, to that key's: a key is checked first, so a key over
its limit spends nothing of its tenant's. Counts are shared by every API process through
``storage/rate_windows.py`` (the database, or Redis). Writing the shared count on every
request costs about a twelfth of accepting a webhook (benchmarks/noisy_tenant.py,
docs/RATE_LIMITS.md), and on SQLite it is one more write transaction queueing for the one
writer; so each process takes a *lease* of a tenth of the window's quota at a time and
spends it locally (about 0.2% of an accept). A process that finds a window spent
remembers it and refuses locally until the window ends, so a tenant flooding past its
limit costs the shared store nothing more.

The limiter's clock is its own, and the API gives it the wall clock: limits ration real
capacity per real second, while the app's clock is business time (the demo runs it
faster, evaluations and tests stop it). Tests drive the limiter with a clock of theirs.

If the shared store cannot be reached, the lease is granted locally and the failure
logged: a limiter outage must not turn into lost deliveries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from orderops.domain.clock import Clock
from orderops.domain.rate_limits import (
    LEASE_SHARE,
    Admission,
    Limit,
    Quota,
    RatePartition,
    RateScope,
    Verdict,
    Window,
    granted,
)
from orderops.storage.rate_windows import WindowCounts
from orderops.tenancy.tenant_rate_limits import Quotas

log = logging.getLogger(__name__)

OVERRIDE_TTL = timedelta(seconds=10)
"""How long a process trusts the tenant's limits it read: a limit set or cleared takes
effect on every process within this time."""
MAX_BUCKETS = 50_000
"""Buckets a process keeps before forgetting those whose window has ended."""
WARN_EVERY_SECONDS = 60.0


@dataclass
class _Bucket:
    """This process's share of one shared window: a lease of requests it may still admit."""

    window: Window | None = None
    tokens: int = 0
    shared_left: int = 0
    """What the shared window had left after this process's last lease."""
    spent: bool = False
    """The shared window granted nothing: refuse locally until it ends."""
    leasing: threading.Lock = field(default_factory=threading.Lock)

    def serves(self, window: Window) -> bool:
        return self.window == window and (self.tokens > 0 or self.spent)

    def spend(self, limit: Limit, window: Window, now: datetime) -> Verdict:
        allowed = self.tokens > 0
        if allowed:
            self.tokens -= 1
        remaining = self.tokens + self.shared_left if allowed else 0
        return Verdict(limit, allowed, remaining, window.seconds_left(now))

    def refill(self, window: Window, tokens: int, shared_left: int) -> None:
        self.window, self.tokens, self.shared_left = window, tokens, shared_left
        self.spent = tokens == 0


class RateLimiter:
    """Admits or refuses requests against the tenant's and the key's limits."""

    def __init__(
        self,
        *,
        counts: WindowCounts,
        defaults: Quotas,
        own_limits: Callable[[str], Quotas],
        clock: Clock,
        lease_share: int = LEASE_SHARE,
    ) -> None:
        """``own_limits`` answers a tenant's overrides (``tenant_quotas`` over the database);
        each lease is a ``lease_share``th of the quota (``sys.maxsize``: one per request)."""
        self._lease_share = lease_share
        self._counts = counts
        self._defaults = dict(defaults)
        self._own_limits = own_limits
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._quotas: dict[str, tuple[datetime, Quotas]] = {}
        self._warned_at = 0.0

    def admit(self, *, tenant_id: str, scope: RateScope, key_id: str | None = None) -> Admission:
        """Spend one request of every limit that applies, or find the first that refuses.
        May read the tenant's limits and lease from the shared window (I/O)."""
        now = self.clock.now()
        verdicts: list[Verdict] = []
        for limit, name in self._applying(self._read_quotas(tenant_id, now), scope, key_id):
            verdict = self._take(tenant_id, name, limit, now)
            verdicts.append(verdict)
            if not verdict.allowed:
                break
        return Admission(tuple(verdicts))

    def admit_locally(
        self, *, tenant_id: str, scope: RateScope, key_id: str | None = None
    ) -> Admission | None:
        """``admit`` when this process already holds what it needs (no I/O, safe on an
        event loop); None when the shared window or the tenant's limits must be read."""
        now = self.clock.now()
        cached = self._quotas.get(tenant_id)
        if cached is None or not self._fresh(cached[0], now):
            return None
        applying = self._applying(cached[1], scope, key_id)
        with self._lock:
            plan = []
            for limit, name in applying:
                window = Window.at(now, limit.quota.seconds)
                bucket = self._buckets.get((tenant_id, name))
                if bucket is None or not bucket.serves(window):
                    return None
                plan.append((bucket, limit, window))
                if bucket.tokens == 0:
                    break  # spent: the request is refused here, whatever follows
            verdicts = [bucket.spend(limit, window, now) for bucket, limit, window in plan]
        return Admission(tuple(verdicts))

    def _applying(
        self, quotas: Quotas, scope: RateScope, key_id: str | None
    ) -> list[tuple[Limit, str]]:
        found = []
        if key_id is not None:
            quota = quotas[(scope, RatePartition.KEY)]
            limit = Limit(scope, RatePartition.KEY, quota)
            found.append((limit, f"{limit.policy}/{quota.seconds}/{key_id}"))
        quota = quotas[(scope, RatePartition.TENANT)]
        limit = Limit(scope, RatePartition.TENANT, quota)
        found.append((limit, f"{limit.policy}/{quota.seconds}"))
        return found

    def _take(self, tenant_id: str, name: str, limit: Limit, now: datetime) -> Verdict:
        window = Window.at(now, limit.quota.seconds)
        bucket = self._bucket(tenant_id, name)
        with self._lock:
            if bucket.serves(window):
                return bucket.spend(limit, window, now)
        with bucket.leasing:  # one lease at a time per bucket; the others wait for it
            with self._lock:
                if bucket.serves(window):
                    return bucket.spend(limit, window, now)
            tokens, shared_left = self._lease(tenant_id, name, limit.quota, window, now)
            with self._lock:
                bucket.refill(window, tokens, shared_left)
                return bucket.spend(limit, window, now)

    def _lease(
        self, tenant_id: str, name: str, quota: Quota, window: Window, now: datetime
    ) -> tuple[int, int]:
        asked = quota.lease(self._lease_share)
        try:
            count = self._counts.add(
                tenant_id=tenant_id, bucket=name, window=window, amount=asked, now=now
            )
        except Exception:  # noqa: BLE001 - any store failure: admit rather than lose input
            self._warn("rate-limit store unreachable; admitting without the shared count")
            return asked, quota.amount
        got = granted(count_after=count, asked=asked, amount=quota.amount)
        return got, max(0, quota.amount - count)

    def _bucket(self, tenant_id: str, name: str) -> _Bucket:
        with self._lock:
            bucket = self._buckets.get((tenant_id, name))
            if bucket is None:
                if len(self._buckets) >= MAX_BUCKETS:
                    self._forget_ended()
                bucket = self._buckets[(tenant_id, name)] = _Bucket()
            return bucket

    def _forget_ended(self) -> None:
        now = self.clock.now()
        for key, bucket in list(self._buckets.items()):
            if bucket.window is None or bucket.window.ends_at <= now:
                del self._buckets[key]

    def _read_quotas(self, tenant_id: str, now: datetime) -> Quotas:
        cached = self._quotas.get(tenant_id)
        if cached is not None and self._fresh(cached[0], now):
            return cached[1]
        try:
            quotas = {**self._defaults, **self._own_limits(tenant_id)}
        except SQLAlchemyError:
            self._warn("a tenant's rate limits could not be read; using the last known")
            quotas = dict(cached[1]) if cached is not None else dict(self._defaults)
        self._quotas[tenant_id] = (now, quotas)
        return quotas

    @staticmethod
    def _fresh(read_at: datetime, now: datetime) -> bool:
        return now - read_at < OVERRIDE_TTL

    def _warn(self, message: str) -> None:
        if time.monotonic() - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = time.monotonic()
            log.warning(message, exc_info=True)
