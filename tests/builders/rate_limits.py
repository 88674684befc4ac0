"""Rate-limit stores and limiters for tests: the test Redis, and one API process's limiter.

Redis is part of the contract where ``ORDEROPS_REDIS_URL`` is used, so, like PostgreSQL in
tests/conftest.py, an unreachable Redis skips a test locally and fails it in CI.
"""

from __future__ import annotations

import os

import pytest
from redis import Redis
from redis.exceptions import RedisError

from orderops.domain.clock import Clock
from orderops.domain.rate_limits import Quota, RatePartition, RateScope
from orderops.storage.rate_windows import LimitsStorageWindows, WindowCounts
from orderops.tenancy.rate_limits import RateLimiter
from orderops.tenancy.tenant_rate_limits import Quotas

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
REDIS_URL = "redis://127.0.0.1:6379/15"
"""The test database of the local Redis (and CI's)."""


def redis_or_skip() -> LimitsStorageWindows:
    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except RedisError as exc:
        message = f"Redis at {REDIS_URL} unreachable: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return LimitsStorageWindows.at(REDIS_URL)


def process(
    counts: WindowCounts, clock: Clock, *, own: Quotas | None = None, **quotas: Quota
) -> RateLimiter:
    """One API process's limiter over shared ``counts``: 1,000 a second for whatever
    ``quotas`` (``ingest_tenant=Quota(..)``) does not name; ``own`` the tenant's limits."""
    default = Quota(amount=1000, seconds=1)
    return RateLimiter(
        counts=counts,
        defaults={
            (scope, part): quotas.get(f"{scope}_{part}", default)
            for scope in RateScope
            for part in RatePartition
        },
        own_limits=lambda _tenant: own or {},
        clock=clock,
    )
