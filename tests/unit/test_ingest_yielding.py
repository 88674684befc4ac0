"""A flooding tenant's admitted accepts start in the gaps the other tenants leave.

A tenant refused lately (``TenantSlots.note_refused``) still gets its quota, but its
admitted deliveries are accepted one at a time, each once the accepts of the other
tenants under way have ended (waiting at most its pace and ``MAX_YIELD_WAIT``), so another tenant's
delivery never has a flooder's accept start beside it. A tenant not refused lately never
waits for anyone else.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from orderops.api.ingest_slots import MAX_YIELD_WAIT, NOISY_SECONDS, TenantSlots, Turn

NOW = 100.0


def _request() -> Request:
    return Request({"type": "http", "state": {}})


async def _unpaced(_seconds: float) -> None:
    """Pacing's wait, skipped: these tests are about yielding."""


def _turn(request: Request) -> Turn:
    turn: Turn = request.state.orderops_ingest_slot
    return turn


def test_a_flooding_tenants_accept_waits_until_the_other_tenants_accept_ends() -> None:
    async def scenario() -> tuple[bool, bool]:
        slots = TenantSlots(4, clock=lambda: NOW)
        slots.note_refused("flood")
        quiet = _request()
        await slots.take(quiet, "quiet")  # under way
        flooder = asyncio.create_task(slots.take(_request(), "flood", interval=1.0))
        await asyncio.sleep(0.05)
        waited = not flooder.done()
        _turn(quiet).give_back()  # the quiet tenant's accept was answered
        await asyncio.wait_for(flooder, MAX_YIELD_WAIT / 2)
        return waited, flooder.done()

    assert asyncio.run(scenario()) == (True, True)


def test_a_busy_quiet_tenant_delays_a_flooder_by_at_most_its_pace_and_the_yield_wait() -> None:
    async def scenario(interval: float) -> float:
        loop = asyncio.get_running_loop()
        slots = TenantSlots(4, clock=lambda: NOW)
        slots.note_refused("flood")
        await slots.take(_request(), "quiet")  # never answered in this test
        started = loop.time()
        await asyncio.wait_for(slots.take(_request(), "flood", interval=interval), 5)
        return loop.time() - started

    at_its_pace = asyncio.run(scenario(0.1))  # 10 a second
    at_most = asyncio.run(scenario(60.0))  # 1 a minute
    assert 0.09 <= at_its_pace < MAX_YIELD_WAIT
    assert MAX_YIELD_WAIT * 0.9 <= at_most < MAX_YIELD_WAIT * 3


def test_a_flooding_tenants_accepts_that_waited_together_start_one_at_a_time() -> None:
    async def scenario() -> list[bool]:
        slots = TenantSlots(4, clock=lambda: NOW, sleep=_unpaced)
        slots.note_refused("flood")
        quiet = _request()
        await slots.take(quiet, "quiet")
        first, second = _request(), _request()
        waiting = [
            asyncio.create_task(slots.take(r, "flood", interval=1.0)) for r in (first, second)
        ]
        await asyncio.sleep(0.05)
        _turn(quiet).give_back()  # the gap both were waiting for
        await asyncio.sleep(0.05)
        started = [task.done() for task in waiting]
        _turn(first).give_back()  # the first flood accept was answered
        await asyncio.wait_for(waiting[1], MAX_YIELD_WAIT / 2)
        return [*started, waiting[1].done()]

    assert asyncio.run(scenario()) == [True, False, True]


def test_a_tenant_not_refused_lately_never_waits_for_the_others() -> None:
    now = [NOW]

    async def scenario() -> bool:
        slots = TenantSlots(4, clock=lambda: now[0])
        slots.note_refused("flood")
        now[0] += NOISY_SECONDS  # its refusal is past
        await slots.take(_request(), "quiet")
        other = asyncio.create_task(slots.take(_request(), "flood"))
        await asyncio.sleep(0.01)
        return other.done()

    assert asyncio.run(scenario()) is True


def test_a_flooders_own_accepts_do_not_make_the_quiet_tenants_wait() -> None:
    async def scenario() -> bool:
        slots = TenantSlots(4, clock=lambda: NOW)
        slots.note_refused("flood")
        await slots.take(_request(), "flood")  # under way, never answered here
        quiet = asyncio.create_task(slots.take(_request(), "quiet"))
        await asyncio.sleep(0.01)
        return quiet.done()

    assert asyncio.run(scenario()) is True
