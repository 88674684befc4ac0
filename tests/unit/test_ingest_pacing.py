"""A tenant's admitted webhook deliveries are spread over its window (api/ingest_slots.py).

A fixed window lets a tenant's whole quota be admitted at once; pacing starts the
deliveries a tenant has in hand together one quota interval apart, so another tenant's
delivery never arrives behind a burst. These tests hold the pacing's clock still and
record the waits it asks for instead of sleeping.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from starlette.requests import Request

from orderops.api.ingest_slots import MAX_PACE_WAIT, FreeIngestSlots, TenantSlots
from orderops.api.rate_limits import pace
from orderops.domain.rate_limits import Admission, Limit, Quota, RatePartition, RateScope, Verdict
from orderops.domain.rate_limits import Window as _Window

NOW = 100.0


class Pacing:
    """Slots on a still clock; every wait asked for is recorded and returns at once."""

    def __init__(self, per_tenant: int = 50) -> None:
        self.waits: list[tuple[str, float]] = []
        self._tenant = ""
        self.slots = TenantSlots(per_tenant, clock=lambda: NOW, sleep=self._sleep)

    async def _sleep(self, seconds: float) -> None:
        self.waits.append((self._tenant, round(seconds, 6)))

    async def take(self, tenant: str, interval: float) -> Request:
        request = Request({"type": "http", "state": {}})
        self._tenant = tenant
        await self.slots.take(request, tenant, interval=interval)
        return request


async def answered(request: Request) -> None:
    """The answer to ``request`` was sent: FreeIngestSlots gives its turn back."""

    async def app(_scope: object, _receive: object, _send: object) -> None:
        return None

    await FreeIngestSlots(app)(request.scope, None, None)  # type: ignore[arg-type]


def test_deliveries_a_tenant_has_in_hand_together_start_one_quota_interval_apart() -> None:
    async def scenario() -> list[tuple[str, float]]:
        pacing = Pacing()
        for _ in range(4):  # 10 a second, all admitted at the window's start
            await pacing.take("acme", interval=0.1)
        return pacing.waits

    assert asyncio.run(scenario()) == [("acme", 0.1), ("acme", 0.2), ("acme", 0.3)]


def test_a_delivery_that_finds_none_of_its_tenants_in_hand_starts_at_once() -> None:
    async def scenario() -> list[tuple[str, float]]:
        pacing = Pacing()
        for _ in range(3):  # a provider sending one at a time, each answered before the next
            await answered(await pacing.take("acme", interval=0.1))
        return pacing.waits

    assert asyncio.run(scenario()) == []


def test_another_tenant_is_not_paced_behind_a_tenants_burst() -> None:
    async def scenario() -> list[tuple[str, float]]:
        pacing = Pacing()
        for _ in range(3):
            await pacing.take("acme", interval=0.1)
        await pacing.take("globex", interval=1 / 600)
        await pacing.take("acme", interval=0.1)
        return pacing.waits

    assert asyncio.run(scenario()) == [("acme", 0.1), ("acme", 0.2), ("acme", 0.3)]


def test_a_long_windows_pace_never_holds_a_delivery_past_the_cap() -> None:
    async def scenario() -> list[tuple[str, float]]:
        pacing = Pacing()
        for _ in range(3):  # 2 a minute: 30 s apart, capped
            await pacing.take("acme", interval=30.0)
        return pacing.waits

    assert asyncio.run(scenario()) == [("acme", MAX_PACE_WAIT), ("acme", MAX_PACE_WAIT)]


def test_a_delivery_dropped_while_it_waits_gives_back_its_turn() -> None:
    async def scenario() -> bool:
        never = asyncio.Event()

        async def forever(_seconds: float) -> None:
            await never.wait()

        slots = TenantSlots(1, clock=lambda: NOW, sleep=forever)
        first = Request({"type": "http", "state": {}})
        await slots.take(first, "acme", interval=0.5)

        async def route(scope: dict[str, object], _receive: object, _send: object) -> None:
            await slots.take(Request(scope), "acme", interval=0.5)

        waiting = asyncio.create_task(
            FreeIngestSlots(route)({"type": "http", "state": {}}, None, None)  # type: ignore[arg-type]
        )
        await asyncio.sleep(0)
        waiting.cancel()  # the sender went away while its delivery was paced
        await asyncio.gather(waiting, return_exceptions=True)
        await answered(first)
        again = Request({"type": "http", "state": {}})
        # none of acme's in hand now, so no pacing: a wait here would never end
        await asyncio.wait_for(slots.take(again, "acme", interval=0.5), timeout=1)
        return waiting.cancelled()

    assert asyncio.run(scenario())


def _admission(*limits: Limit) -> Admission:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    return Admission(
        tuple(Verdict(limit, True, 1, _Window.at(now, 1).seconds_left(now)) for limit in limits)
    )


def test_the_pace_is_the_tenants_ingest_window_over_its_quota() -> None:
    tenant = Limit(RateScope.INGEST, RatePartition.TENANT, Quota(6000, 10))
    key = Limit(RateScope.INGEST, RatePartition.KEY, Quota(10, 1))
    api = Limit(RateScope.API, RatePartition.TENANT, Quota(5, 1))
    assert pace(_admission(key, tenant)) == 10 / 6000
    assert pace(_admission(Limit(RateScope.INGEST, RatePartition.TENANT, Quota(10, 1)))) == 0.1
    assert pace(_admission(api)) == 0.0  # not an ingest limit
    assert pace(None) == 0.0  # no limiter held the request
