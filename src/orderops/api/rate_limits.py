"""Rate limits on the API: where requests are held to them, and what the answers say.

The tenant is known only after the key or the webhook URL's token is looked up, so the
limits are checked right after that lookup (``api/auth.py`` for bearer keys, the webhook
route for tokens): an unknown key or token is refused before any limit is spent.

Answers carry the limits in the fields of draft-ietf-httpapi-ratelimit-headers (-09), on
success and refusal alike, one list member per limit the request was held to::

    RateLimit-Policy: "api-key";q=50;w=1, "api-tenant";q=200;w=1
    RateLimit: "api-key";r=41;t=1, "api-tenant";r=187;t=1

(``q`` the quota, ``w`` the window in seconds, ``r`` what is left of it, ``t`` seconds until
it is whole again). A refusal is 429 problem+json with ``Retry-After`` in seconds; nothing
of the request was done, so a webhook provider's retry is stored like a first delivery.

A tenant flooding past its limit must cost the others as little as possible, so a delivery
to a webhook URL this process resolved in the last minute is held to its tenant's limit
outside the whole app (``api/webhook_gate.py``): over it, the answer is 429 without the
URL's lookup, and, while the process knows the window is spent, without a thread or a
statement. Only URLs that resolved are remembered, so an unknown token still goes the whole
way to its 404 before any limit is spent.
"""

from __future__ import annotations

import asyncio
import threading
import time
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderops.api.ingest_slots import FreeIngestSlots, TenantSlots
from orderops.api.problems import problem
from orderops.bootstrap import App
from orderops.domain.clock import Clock, SystemClock
from orderops.domain.rate_limits import Admission, RateLimited, RatePartition, RateScope
from orderops.storage.rate_windows import DatabaseWindows, LimitsStorageWindows, WindowCounts
from orderops.tenancy.rate_limits import RateLimiter
from orderops.tenancy.tenant_rate_limits import default_quotas, tenant_quotas

WEBHOOK_PREFIX = "/v1/webhooks/"
TOKEN_TTL_SECONDS = 60.0
"""How long a resolved webhook URL is remembered for early refusals."""
MAX_TOKENS = 10_000
MAX_LEASE_LOCKS = 10_000
STATE_KEY = "orderops_rate_admission"
"""Where a request's admission waits in the ASGI scope's state for the answer's headers."""
HELD_TENANT = "orderops_rate_held_tenant"
"""The tenant a webhook delivery was held for before routing (``api/webhook_gate.py``)."""
RATE_LIMITED: dict[str, Any] = {
    "description": "Over the tenant's or the key's rate limit: nothing was done; retry "
    "after Retry-After seconds (RateLimit and RateLimit-Policy say which limit)",
    "headers": {
        "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}},
        "RateLimit-Policy": {"description": "The limits applied", "schema": {"type": "string"}},
        "RateLimit": {"description": "What is left of each", "schema": {"type": "string"}},
    },
}


def install(api: FastAPI) -> RateLimiter:
    """Give the app its limiter (on the wall clock), the 429 answer and the headers on every
    answer. The OpenAPI document names 429 wherever a key is held to its limits because
    ``api/openapi.py`` counts it among the statuses a bearer key implies."""
    app: App = api.state.orderops
    limiter = limiter_for(app)
    api.state.rate_limiter = limiter
    api.state.webhook_tenants = RecentTokens()
    api.state.rate_lease_locks = {}
    api.state.ingest_slots = TenantSlots(app.settings.ingest_concurrency_per_tenant)
    api.add_exception_handler(RateLimited, _refused)  # type: ignore[arg-type]
    api.add_middleware(FreeIngestSlots)
    api.add_middleware(RateLimitHeaders)
    return limiter


def limiter_for(app: App, *, clock: Clock | None = None) -> RateLimiter:
    """A limiter over the configured store: Redis when ``redis_url`` is set, else the
    database. Tests pass a clock of theirs."""
    counts: WindowCounts
    if app.settings.redis_url is not None:
        counts = LimitsStorageWindows.at(app.settings.redis_url.get_secret_value())
    else:
        counts = DatabaseWindows(app.sessions)
    return RateLimiter(
        counts=counts,
        defaults=default_quotas(app.settings),
        own_limits=partial(tenant_quotas, app.sessions),
        clock=clock or SystemClock(),
    )


def hold(request: Request, *, tenant_id: str, scope: RateScope, key_id: str | None) -> None:
    """Spend the request on its limits (blocking: from a sync dependency), or raise 429."""
    limiter = _limiter(request)
    if limiter is not None:
        _settle(request, limiter.admit(tenant_id=tenant_id, scope=scope, key_id=key_id), tenant_id)


async def hold_async(
    request: Request, *, tenant_id: str, scope: RateScope, key_id: str | None = None
) -> None:
    """``hold`` from a route on the event loop (``admitted``)."""
    if _limiter(request) is None:
        return
    admission = await admitted(request.app.state, tenant_id=tenant_id, scope=scope, key_id=key_id)
    if scope == RateScope.INGEST and not admission.allowed:
        note_refused(request.app.state, tenant_id)
    _settle(request, admission, tenant_id)


def note_refused(state: Any, tenant_id: str) -> None:
    """Tell the ingest slots the tenant is flooding: its admitted accepts yield for a while
    (``api/ingest_slots.py``)."""
    slots: TenantSlots | None = getattr(state, "ingest_slots", None)
    if slots is not None:
        slots.note_refused(tenant_id)


async def admitted(
    state: Any, *, tenant_id: str, scope: RateScope, key_id: str | None = None
) -> Admission:
    """The limiter's answer from the event loop. A thread is used only when the shared count
    or the tenant's limits must be read, and by one request per bucket at a time: the
    others wait here, holding no thread, then are mostly answered from the lease it took.
    (A burst at a window's start would otherwise fill the thread pool with requests
    waiting for one lease, and other tenants' requests would wait for a thread.)"""
    limiter: RateLimiter = state.rate_limiter
    admission = limiter.admit_locally(tenant_id=tenant_id, scope=scope, key_id=key_id)
    if admission is not None:
        return admission
    locks: dict[tuple[str, str, str | None], asyncio.Lock] = state.rate_lease_locks
    if len(locks) >= MAX_LEASE_LOCKS:
        locks.clear()  # a lock still held only lets one more request lease beside it
    async with locks.setdefault((tenant_id, scope, key_id), asyncio.Lock()):
        admission = limiter.admit_locally(tenant_id=tenant_id, scope=scope, key_id=key_id)
        if admission is None:
            admission = await run_in_threadpool(
                limiter.admit, tenant_id=tenant_id, scope=scope, key_id=key_id
            )
    return admission


async def hold_webhook(request: Request, *, tenant_id: str, endpoint_token: str) -> None:
    """``hold_async`` for a delivery to a webhook URL that resolved to ``tenant_id`` (unless
    ``api/webhook_gate.py`` held it before routing), then its paced turn among the tenant's
    accepts and one of its slots (``api/ingest_slots.py``), unless ``take_turn`` gave it
    them before the lookup."""
    tokens: RecentTokens | None = getattr(request.app.state, "webhook_tenants", None)
    if tokens is not None:
        tokens.remember(endpoint_token, tenant_id)
    if held_for(request) != tenant_id:
        await hold_async(request, tenant_id=tenant_id, scope=RateScope.INGEST)
    await take_turn(request, tenant_id)


def held_for(request: Request) -> str | None:
    """The tenant the webhook gate held this delivery for before routing, if any."""
    held: str | None = getattr(request.state, HELD_TENANT, None)
    return held


async def take_turn(request: Request, tenant_id: str) -> None:
    """The delivery's paced turn and slot among ``tenant_id``'s accepts, once per request.
    A delivery the gate held takes it before its URL's lookup, so a flooding tenant's
    admitted deliveries hold no more threads than its slots, lookups included."""
    slots: TenantSlots | None = getattr(request.app.state, "ingest_slots", None)
    if slots is None or slots.holds(request):
        return
    admission: Admission | None = getattr(request.state, STATE_KEY, None)
    await slots.take(request, tenant_id, interval=pace(admission))


def pace(admission: Admission | None) -> float:
    """Seconds between a tenant's accepts at the even pace of its ingest quota (0 when no
    limiter held the request)."""
    for verdict in admission.verdicts if admission is not None else ():
        limit = verdict.limit
        if limit.scope == RateScope.INGEST and limit.partition == RatePartition.TENANT:
            return limit.quota.seconds / limit.quota.amount
    return 0.0


def policy_header(admission: Admission) -> str:
    return ", ".join(
        f'"{v.limit.policy}";q={v.limit.quota.amount};w={v.limit.quota.seconds}'
        for v in admission.verdicts
    )


def remaining_header(admission: Admission) -> str:
    return ", ".join(
        f'"{v.limit.policy}";r={v.remaining};t={v.reset_after}' for v in admission.verdicts
    )


class RateLimitHeaders:
    """Adds ``RateLimit-Policy`` and ``RateLimit`` to the answer of a request that was held
    to limits (pure ASGI: it costs the other requests one dictionary lookup)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            admission = scope.get("state", {}).get(STATE_KEY)
            if message["type"] == "http.response.start" and admission is not None:
                headers = MutableHeaders(scope=message)
                headers.setdefault("RateLimit-Policy", policy_header(admission))
                headers.setdefault("RateLimit", remaining_header(admission))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RecentTokens:
    """Webhook URL tokens that resolved lately, and their tenants (a bounded memory)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, tuple[str, float]] = {}

    def remember(self, token: str, tenant_id: str) -> None:
        with self._lock:
            if len(self._tenants) >= MAX_TOKENS:
                self._tenants.clear()
            self._tenants[token] = (tenant_id, time.monotonic())

    def tenant_of(self, token: str) -> str | None:
        found = self._tenants.get(token)
        if found is None or time.monotonic() - found[1] > TOKEN_TTL_SECONDS:
            return None
        return found[0]


def _limiter(request: Request) -> RateLimiter | None:
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    return limiter


def _settle(request: Request, admission: Admission, tenant_id: str) -> None:
    setattr(request.state, STATE_KEY, admission)
    if not admission.allowed:
        raise RateLimited(admission, tenant_id=tenant_id)


async def _refused(_request: Request, exc: RateLimited) -> JSONResponse:
    return refused_answer(exc)


def refused_answer(exc: RateLimited) -> JSONResponse:
    response = problem(
        429,
        exc.code,
        "Too many requests",
        exc.message,
        policy=exc.policy,
        retry_after=exc.admission.retry_after,
    )
    response.headers["Retry-After"] = str(exc.admission.retry_after)
    response.headers["RateLimit-Policy"] = policy_header(exc.admission)
    response.headers["RateLimit"] = remaining_header(exc.admission)
    return response
