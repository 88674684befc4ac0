"""A tenant's webhook accepts in this process: spread over its window, and a few at a time,
so one tenant's burst waits behind itself and not in front of the other tenants.

A rate limit caps how many deliveries a tenant has accepted per window, but a fixed window
lets the whole quota arrive at once: at the start of each window a flooding tenant's
admitted deliveries would all be accepted together, and another tenant's delivery arriving
then would queue behind all of them for the interpreter, the threads and the database (on
SQLite, its one writer). Two things stand between the rate check and the accept (a
refused delivery never waits for either):

* *pacing*: a delivery admitted while others of its tenant are still in hand starts no
  sooner than the tenant's quota spread evenly allows (the window over the quota: 100 ms
  apart at 10 a second, 1.7 ms at the default 600), waiting on the event loop with no
  thread, no slot and its body unread. A delivery that finds none of its tenant's in hand
  starts at once, so a provider sending one at a time never waits; the wait is capped at
  ``MAX_PACE_WAIT`` so a long window (``2/minute``) cannot hold a delivery past a
  provider's timeout.
* *slots*: at most ``ingest_concurrency_per_tenant`` accepts of one tenant at once; the
  rest of its burst waits for its own slots. A slot is given back when the answer has been
  sent (``FreeIngestSlots``).

Measured by ``benchmarks/noisy_tenant.py`` (docs/RATE_LIMITS.md, "Fairness").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

SLOT_KEY = "orderops_ingest_slot"
"""Where a request's turn waits in the ASGI scope's state to be given back."""
MAX_PACE_WAIT = 1.0
"""The longest a delivery waits for its paced start, in seconds: under a provider's timeout
(Shopify's is 5 s), and at least a 1-second window's whole quota."""


class _Tenant:
    """One tenant's accepts in this process: those in hand, and when the next may start."""

    def __init__(self, per_tenant: int) -> None:
        self.slots = asyncio.Semaphore(per_tenant)
        self.in_hand = 0
        """Deliveries admitted and not yet answered (pacing, waiting for a slot, accepting)."""
        self.next_start = 0.0


class Turn:
    """A delivery's place among its tenant's accepts, from its admission to its answer."""

    def __init__(self, tenant: _Tenant) -> None:
        self._tenant = tenant
        self._holding = False
        self._done = False
        tenant.in_hand += 1

    async def slot(self) -> None:
        await self._tenant.slots.acquire()
        self._holding = True

    def give_back(self) -> None:
        """Once, whether the delivery was answered, failed, or was cancelled while waiting."""
        if self._done:
            return
        self._done = True
        self._tenant.in_hand -= 1
        if self._holding:
            self._tenant.slots.release()


class TenantSlots:
    """Pacing and slots per tenant, made at its first delivery. ``clock`` and ``sleep`` are
    the event loop's monotonic time and wait; tests pass their own."""

    def __init__(
        self,
        per_tenant: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._per_tenant = per_tenant
        self._tenants: dict[str, _Tenant] = {}
        self._clock = clock
        self._sleep = sleep

    async def take(self, request: Request, tenant_id: str, *, interval: float = 0.0) -> None:
        """Wait for the delivery's paced start (``interval`` seconds after the tenant's
        previous one, while any is in hand), then for one of the tenant's slots; both are
        the request's until its answer is sent."""
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = self._tenants[tenant_id] = _Tenant(self._per_tenant)
        now = self._clock()
        start = min(max(now, tenant.next_start), now + MAX_PACE_WAIT) if tenant.in_hand else now
        tenant.next_start = start + interval
        turn = Turn(tenant)
        setattr(request.state, SLOT_KEY, turn)
        if start > now:
            await self._sleep(start - now)
        await turn.slot()


class FreeIngestSlots:
    """Gives back the turn a request took, once its answer is sent (or it failed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            turn: Turn | None = scope.get("state", {}).pop(SLOT_KEY, None)
            if turn is not None:
                turn.give_back()
