"""Counts shared by API processes, in the database and in Redis: each process leases from
the shared window, and together they admit the quota, never more, however they interleave.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest

from builders.rate_limits import process, redis_or_skip
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.rate_limits import Quota, RateScope
from orderops.storage.rate_windows import DatabaseWindows, WindowCounts
from orderops.tenancy.rate_limits import RateLimiter
from orderops.tenancy.tenants import ensure_tenant

SECOND = timedelta(seconds=1)


@pytest.fixture(params=["database", "redis"])
def counts(request: pytest.FixtureRequest, app: App) -> WindowCounts:
    if request.param == "redis":
        return redis_or_skip()
    return DatabaseWindows(app.sessions)


def _tenant(app: App, clock: FixedClock) -> str:
    """A tenant of its own, so runs sharing the Redis database never share its counts."""
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    ensure_tenant(app.sessions, tenant_id=tenant, name=tenant, clock=clock)
    return tenant


def test_two_processes_admit_the_quota_between_them_not_each(
    app: App, clock: FixedClock, counts: WindowCounts
) -> None:
    tenant = _tenant(app, clock)
    quota = {"ingest_tenant": Quota(amount=20, seconds=1)}
    one, two = process(counts, clock, **quota), process(counts, clock, **quota)
    admitted = [
        process.admit(tenant_id=tenant, scope=RateScope.INGEST).allowed
        for _ in range(20)
        for process in (one, two)
    ]
    assert sum(admitted) == 20
    assert admitted[-4:] == [False] * 4
    clock.advance(SECOND)
    assert two.admit(tenant_id=tenant, scope=RateScope.INGEST).allowed


def test_concurrent_requests_in_several_processes_never_pass_the_quota(
    app: App, clock: FixedClock, counts: WindowCounts
) -> None:
    tenant = _tenant(app, clock)
    processes = [process(counts, clock, api_tenant=Quota(50, 60)) for _ in range(3)]
    admitted: list[bool] = []
    lock = threading.Lock()

    def requests(process: RateLimiter) -> None:
        for _ in range(30):
            allowed = process.admit(tenant_id=tenant, scope=RateScope.API).allowed
            with lock:
                admitted.append(allowed)

    threads = [threading.Thread(target=requests, args=(p,)) for p in processes for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(admitted), sum(admitted)) == (180, 50)
