"""A tenant's webhook accepts in this process: spread over its window, and a few at a time,
so one tenant's burst waits behind itself and not in front of the other tenants.

A rate limit caps how many deliveries a tenant has accepted per window, but a fixed window
lets the whole quota arrive at once: at the start of each window a flooding tenant's
admitted deliveries would all be accepted together, and another tenant's delivery arriving
then would queue behind all of them for the interpreter, the threads and the database (on
SQLite, its one writer). Three things stand between the rate check and the accept (a
refused delivery never waits for any):

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
* *yielding*: a tenant refused in the last ``NOISY_SECONDS`` (flooding past its limit)
  accepts one delivery at a time, and starts each only when no other tenant's accept is
  under way, waiting at most its pace (and ``MAX_YIELD_WAIT``) for that: its quota is
  still its own, but
  it is spent in the gaps the others leave, so another tenant's delivery meets at most
  the one accept of the flooder already started when it arrived, never one that started
  beside it (and the flooder's deliveries that waited together do not start together).

Measured by ``benchmarks/noisy_tenant.py`` (docs/RATE_LIMITS.md, "Fairness").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

SLOT_KEY = "orderops_ingest_slot"
"""Where a request's turn waits in the ASGI scope's state to be given back."""
MAX_PACE_WAIT = 1.0
"""The longest a delivery waits for its paced start, in seconds: under a provider's timeout
(Shopify's is 5 s), and at least a 1-second window's whole quota."""
NOISY_SECONDS = 2.0
"""How long after a refusal a tenant's admitted accepts yield to the other tenants'."""
MAX_YIELD_WAIT = 0.5
"""The longest a flooding tenant's admitted delivery waits for the others' accepts to end,
and never longer than its quota's pace (100 ms at 10 a second): busy quiet tenants delay
it, they cannot starve it or hold it below its quota."""


class _Tenant:
    """One tenant's accepts in this process: those in hand, and when the next may start."""

    def __init__(self, per_tenant: int) -> None:
        self.slots = asyncio.Semaphore(per_tenant)
        self.in_hand = 0
        """Deliveries admitted and not yet answered (pacing, waiting for a slot, accepting)."""
        self.next_start = 0.0
        self.refused_at: float | None = None
        """When this process last refused the tenant (its clock), for ``NOISY_SECONDS``."""
        self.yielding = asyncio.Lock()
        """Held by the one accept of the tenant, flooding, that is yielding or under way."""


class _Accepting:
    """How many accepts of tenants not flooding are under way; set when none is."""

    def __init__(self) -> None:
        self.count = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def started(self) -> None:
        self.count += 1
        self.idle.clear()

    def ended(self) -> None:
        self.count -= 1
        if self.count == 0:
            self.idle.set()


class Turn:
    """A delivery's place among its tenant's accepts, from its admission to its answer."""

    def __init__(self, tenant: _Tenant, accepting: _Accepting | None) -> None:
        self._tenant = tenant
        self._accepting = accepting
        """Counted among the quiet tenants' accepts once it holds a slot (None: a flooder's)."""
        self._holding = False
        self._alone = False
        self._done = False
        tenant.in_hand += 1

    async def alone(self) -> None:
        """A flooding tenant's accepts yield one at a time: those that waited together for
        the others' accepts to end must not start together when they do."""
        await self._tenant.yielding.acquire()
        self._alone = True

    async def slot(self) -> None:
        await self._tenant.slots.acquire()
        self._holding = True
        if self._accepting is not None:
            self._accepting.started()

    def give_back(self) -> None:
        """Once, whether the delivery was answered, failed, or was cancelled while waiting."""
        if self._done:
            return
        self._done = True
        self._tenant.in_hand -= 1
        if self._alone:
            self._tenant.yielding.release()
        if self._holding:
            self._tenant.slots.release()
            if self._accepting is not None:
                self._accepting.ended()


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
        self._accepting: _Accepting | None = None
        """Made on the event loop at the first turn (an asyncio.Event belongs to its loop)."""

    def note_refused(self, tenant_id: str) -> None:
        """The tenant was just refused: its admitted accepts yield for ``NOISY_SECONDS``."""
        self._tenant(tenant_id).refused_at = self._clock()

    def noisy(self, tenant_id: str) -> bool:
        tenant = self._tenants.get(tenant_id)
        refused_at = tenant.refused_at if tenant is not None else None
        return refused_at is not None and self._clock() - refused_at < NOISY_SECONDS

    @staticmethod
    def holds(request: Request) -> bool:
        """The request already has its turn (taken before its URL's lookup)."""
        return getattr(request.state, SLOT_KEY, None) is not None

    async def take(self, request: Request, tenant_id: str, *, interval: float = 0.0) -> None:
        """Wait for the delivery's paced start (``interval`` seconds after the tenant's
        previous one, while any is in hand), then, for a flooding tenant, for the other
        tenants' accepts to end, then for one of the tenant's slots; all are the request's
        until its answer is sent."""
        tenant = self._tenant(tenant_id)
        now = self._clock()
        start = min(max(now, tenant.next_start), now + MAX_PACE_WAIT) if tenant.in_hand else now
        tenant.next_start = start + interval
        if self._accepting is None:
            self._accepting = _Accepting()
        noisy = self.noisy(tenant_id)
        turn = Turn(tenant, None if noisy else self._accepting)
        setattr(request.state, SLOT_KEY, turn)
        if start > now:
            await self._sleep(start - now)
        if noisy:
            await turn.alone()
            if not self._accepting.idle.is_set():  # at most its pace: it keeps its quota
                with contextlib.suppress(TimeoutError):
                    patience = min(MAX_YIELD_WAIT, interval)
                    await asyncio.wait_for(self._accepting.idle.wait(), patience)
        await turn.slot()

    def _tenant(self, tenant_id: str) -> _Tenant:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            tenant = self._tenants[tenant_id] = _Tenant(self._per_tenant)
        return tenant


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
