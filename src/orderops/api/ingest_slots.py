"""A few webhook accepts per tenant at a time in this process, so one tenant's burst waits
behind itself and not in front of the other tenants.

A rate limit caps how many deliveries a tenant has accepted per window, but a fixed window
lets the whole quota arrive at once: at the start of each window a flooding tenant's
admitted deliveries would all be accepted together, and another tenant's delivery arriving
then would queue behind all of them for the threads and the database (on SQLite, its one
writer). So each accept takes one of the tenant's ``ingest_concurrency_per_tenant`` slots,
after the rate check (a refused delivery never waits), and gives it back when its answer
has been sent (``FreeIngestSlots``); the rest of the tenant's burst waits for its own
slots. Measured by ``benchmarks/noisy_tenant.py`` (docs/RATE_LIMITS.md).
"""

from __future__ import annotations

import asyncio

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

SLOT_KEY = "orderops_ingest_slot"
"""Where a request's slot waits in the ASGI scope's state to be given back."""


class TenantSlots:
    """One semaphore per tenant, made at its first delivery."""

    def __init__(self, per_tenant: int) -> None:
        self._per_tenant = per_tenant
        self._slots: dict[str, asyncio.Semaphore] = {}

    async def take(self, request: Request, tenant_id: str) -> None:
        """Wait for one of the tenant's slots; it is the request's until its answer is sent."""
        slot = self._slots.setdefault(tenant_id, asyncio.Semaphore(self._per_tenant))
        await slot.acquire()
        setattr(request.state, SLOT_KEY, slot)


class FreeIngestSlots:
    """Gives back the slot a request took, once its answer is sent (or it failed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            slot = scope.get("state", {}).pop(SLOT_KEY, None)
            if slot is not None:
                slot.release()
