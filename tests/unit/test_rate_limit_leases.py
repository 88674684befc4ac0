"""Rate limits without a database: quotas, windows, leases and the limiter's local answers.

The limiter is run over ``limits``' own in-memory storage, through the same adapter that
serves Redis, so the shared step is the library's atomic increment, not a stand-in.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import pytest
from limits.storage import MemoryStorage
from pydantic import ValidationError
from starlette.requests import Request

from builders.rate_limits import process
from orderops.api.ingest_slots import FreeIngestSlots, TenantSlots
from orderops.api.rate_limits import policy_header, remaining_header
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.domain.rate_limits import (
    Admission,
    Limit,
    Quota,
    RateLimited,
    RatePartition,
    RateScope,
    Verdict,
    Window,
    granted,
)
from orderops.storage.rate_windows import LimitsStorageWindows
from orderops.tenancy.rate_limits import OVERRIDE_TTL
from orderops.tenancy.tenant_rate_limits import InvalidRateLimit, quota_of

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INGEST_TENANT = Limit(RateScope.INGEST, RatePartition.TENANT, Quota(600, 1))
API_KEY = Limit(RateScope.API, RatePartition.KEY, Quota(50, 10))


@pytest.mark.parametrize(
    ("quota", "share", "lease"),
    [
        (Quota(600, 1), 10, 60),
        (Quota(50, 1), 10, 5),
        (Quota(9, 1), 10, 1),  # a small quota is never leased in bulk
        (Quota(10**6, 1), 10, 100),  # nor a huge one past MAX_LEASE
        (Quota(600, 1), sys.maxsize, 1),  # one shared write per request
    ],
)
def test_a_lease_is_a_share_of_the_quota(quota: Quota, share: int, lease: int) -> None:
    assert quota.lease(share) == lease


@pytest.mark.parametrize(
    ("count_after", "asked", "amount", "got"),
    [
        (5, 5, 20, 5),  # the window's first lease
        (20, 5, 20, 5),  # the last whole lease
        (22, 5, 20, 3),  # the rest of the window
        (25, 5, 20, 0),  # already spent
        (40, 5, 20, 0),  # spent long ago
    ],
)
def test_a_lease_gets_what_the_window_had_left(
    count_after: int, asked: int, amount: int, got: int
) -> None:
    assert granted(count_after=count_after, asked=asked, amount=amount) == got


def test_windows_are_aligned_to_the_epoch_and_round_the_wait_up() -> None:
    minute = Window.at(T0 + timedelta(seconds=10), 60)
    assert minute.ends_at == T0 + timedelta(minutes=1)
    assert minute.seconds_left(T0 + timedelta(seconds=10)) == 50
    assert minute.seconds_left(T0 + timedelta(seconds=59, milliseconds=800)) == 1
    assert Window.at(T0 + timedelta(minutes=1), 60) != minute


@pytest.mark.parametrize(
    ("text", "quota"),
    [
        ("600/second", Quota(600, 1)),
        ("5 per 15 minutes", Quota(5, 900)),
        ("1/hour", Quota(1, 3600)),
    ],
)
def test_a_rate_is_read_as_a_quota(text: str, quota: Quota) -> None:
    assert quota_of(text) == quota
    assert str(quota_of(text)).startswith(str(quota.amount))


@pytest.mark.parametrize("text", ["lots", "0/second", "-1/second", ""])
def test_a_rate_that_admits_nothing_or_cannot_be_read_is_refused(text: str) -> None:
    with pytest.raises(InvalidRateLimit, match="not a rate limit"):
        quota_of(text)


def test_the_settings_refuse_a_default_that_admits_nothing() -> None:
    with pytest.raises(ValidationError, match="at least one request"):
        Settings(demo_mode=True, rate_limit_api_per_key="0/second")
    with pytest.raises(ValidationError, match="couldn't parse"):
        Settings(demo_mode=True, rate_limit_ingest_per_tenant="fast")


def test_a_refusal_says_which_limit_and_how_long_to_wait() -> None:
    admission = Admission((Verdict(API_KEY, True, 3, 2), Verdict(INGEST_TENANT, False, 0, 1)))
    error = RateLimited(admission, tenant_id="acme")
    assert (admission.allowed, admission.retry_after, error.policy) == (False, 1, "ingest-tenant")
    assert error.message == (
        "tenant acme is over its ingest limit per tenant (600 per 1 second); retry after 1 s"
    )
    assert policy_header(admission) == '"api-key";q=50;w=10, "ingest-tenant";q=600;w=1'
    assert remaining_header(admission) == '"api-key";r=3;t=2, "ingest-tenant";r=0;t=1'


def test_a_refusal_waits_at_least_a_second() -> None:
    assert Admission((Verdict(INGEST_TENANT, False, 0, 0),)).retry_after == 1


# --- the limiter over limits' in-memory storage ---------------------------------------------


class Counting(LimitsStorageWindows):
    """Counts the shared writes, to show which answers were local."""

    def __init__(self) -> None:
        super().__init__(MemoryStorage())
        self.writes = 0

    def add(self, **kwargs: object) -> int:  # type: ignore[override]
        self.writes += 1
        return super().add(**kwargs)  # type: ignore[arg-type]


class Broken(LimitsStorageWindows):
    def __init__(self) -> None:
        super().__init__(MemoryStorage())

    def add(self, **kwargs: object) -> int:  # type: ignore[override]
        raise ConnectionError("the store is down")


def test_a_key_over_its_limit_spends_nothing_of_its_tenants() -> None:
    clock = FixedClock(T0)
    limits = process(Counting(), clock, api_key=Quota(2, 1), api_tenant=Quota(3, 1))
    k1 = [limits.admit(tenant_id="acme", scope=RateScope.API, key_id="k1") for _ in range(3)]
    assert [a.allowed for a in k1] == [True, True, False]
    assert [v.limit.policy for v in k1[2].verdicts] == ["api-key"]  # the tenant not asked
    k2 = [limits.admit(tenant_id="acme", scope=RateScope.API, key_id="k2") for _ in range(2)]
    assert [a.allowed for a in k2] == [True, False]  # the tenant's third, then none left
    refusal = k2[1].refused_by
    assert refusal is not None
    assert refusal.limit.policy == "api-tenant"


def test_a_spent_window_is_refused_locally_until_it_ends() -> None:
    clock, counts = FixedClock(T0), Counting()
    limits = process(counts, clock, ingest_tenant=Quota(20, 1))
    answers = [limits.admit(tenant_id="acme", scope=RateScope.INGEST) for _ in range(30)]
    assert sum(a.allowed for a in answers) == 20
    assert counts.writes == 11  # ten leases of two, and the one that found the window spent
    assert [a.verdicts[0].remaining for a in answers[:3]] == [19, 18, 17]
    clock.advance(timedelta(seconds=1))
    assert limits.admit(tenant_id="acme", scope=RateScope.INGEST).allowed
    assert counts.writes == 12


def test_an_answer_from_what_the_process_holds_needs_no_thread() -> None:
    clock = FixedClock(T0)
    limits = process(Counting(), clock, ingest_tenant=Quota(20, 1))
    assert limits.admit_locally(tenant_id="acme", scope=RateScope.INGEST) is None  # nothing held
    assert limits.admit(tenant_id="acme", scope=RateScope.INGEST).allowed  # leases two
    local = limits.admit_locally(tenant_id="acme", scope=RateScope.INGEST)
    assert local is not None
    assert local.allowed
    assert limits.admit_locally(tenant_id="acme", scope=RateScope.INGEST) is None  # lease spent
    clock.advance(OVERRIDE_TTL)
    assert limits.admit_locally(tenant_id="acme", scope=RateScope.INGEST) is None  # limits stale


def test_a_tenants_own_limit_replaces_the_default() -> None:
    clock = FixedClock(T0)
    own = {(RateScope.INGEST, RatePartition.TENANT): Quota(1, 60)}
    limits = process(Counting(), clock, own=own, ingest_tenant=Quota(20, 1))
    answers = [limits.admit(tenant_id="acme", scope=RateScope.INGEST) for _ in range(2)]
    assert [a.allowed for a in answers] == [True, False]
    assert answers[1].retry_after == 60


def test_a_store_that_cannot_be_reached_admits_rather_than_loses_input() -> None:
    clock = FixedClock(T0)
    limits = process(Broken(), clock, ingest_tenant=Quota(20, 1))
    assert all(limits.admit(tenant_id="acme", scope=RateScope.INGEST).allowed for _ in range(5))


# --- a tenant's accepts at once -------------------------------------------------------------


def test_a_tenants_burst_waits_for_its_own_slots_and_not_for_another_tenants() -> None:
    async def scenario() -> list[str]:
        slots, started = TenantSlots(per_tenant=1), []

        async def accept(tenant: str, name: str) -> Request:
            request = Request({"type": "http", "state": {}})
            await slots.take(request, tenant)
            started.append(name)
            return request

        first = await accept("acme", "acme-1")
        waiting = asyncio.create_task(accept("acme", "acme-2"))
        await asyncio.wait_for(accept("globex", "globex-1"), timeout=1)  # not behind acme
        await asyncio.sleep(0)
        assert started == ["acme-1", "globex-1"]

        async def answered(_scope: object, _receive: object, _send: object) -> None:
            return None

        await FreeIngestSlots(answered)(first.scope, None, None)  # type: ignore[arg-type]
        await waiting
        return started

    assert asyncio.run(scenario()) == ["acme-1", "globex-1", "acme-2"]
