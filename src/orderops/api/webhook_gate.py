"""The door in front of the whole app: a flooding tenant's webhook deliveries refused first.

A delivery to a webhook URL this process resolved lately (``RecentTokens``) is held to its
tenant's ingest limit here, outside every other middleware (Starlette's error handling,
FastAPI's telemetry and body limit, the security headers' wrapper, routing), with the
tenant taken from the URL's token in memory. Over the limit the answer is the 429
problem+json of ``refused_answer`` sent straight to the server: no body read, no thread,
no statement (while the process knows the window is spent: ``tenancy/rate_limits.py``),
no exception raised and caught. Profiled under a flood (docs/RATE_LIMITS.md, "The gate,
turns before lookups, and yielding"), a refusal costs the event loop about 0.2 ms, most
of it parsing and answering HTTP, which only a limit in front of the process removes; what
this door adds is that nothing of the app, its error handling included, sees a refusal.

Only the refusal's telemetry (``telemetry/requests.py``: its X-Request-ID, one JSON log
line, the request metrics and span) is added here, since the app's telemetry middleware
never sees it. Measured on the gate alone (loaded 2-core machine), that takes a refusal
from about 0.1 ms to 0.4 ms, half of it formatting the log line: an operator who cannot
afford a log line per refused delivery limits in front of the app.

Within the limit, the delivery goes on into the app marked as held (``HELD_TENANT``), so
its route takes its tenant's paced turn and slot before looking the URL up
(``api/webhooks.py``) and spends nothing twice. Every other request passes untouched: one
string comparison.

``GatedAPI`` is FastAPI with this door outermost in its middleware stack; ``add_middleware``
cannot put anything outside FastAPI's own error and telemetry middleware.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from orderops.api.rate_limits import (
    HELD_TENANT,
    STATE_KEY,
    WEBHOOK_PREFIX,
    RecentTokens,
    admitted,
    note_refused,
    refused_answer,
)
from orderops.api.security_headers import SecurityHeaders
from orderops.domain.rate_limits import RateLimited, RateScope
from orderops.telemetry.requests import RequestTelemetry

log = logging.getLogger(__name__)


class _Route:
    """What the telemetry reads of a matched route (``route_of``): its path template."""

    path = "/v1/webhooks/{source}/{endpoint_token}"


WEBHOOK_ROUTE = _Route()
"""The route a refused delivery is logged and counted under, as if it had been matched."""


class GatedAPI(FastAPI):
    """FastAPI with ``WebhookGate`` outside its whole middleware stack."""

    def build_middleware_stack(self) -> ASGIApp:
        return WebhookGate(super().build_middleware_stack())


class WebhookGate:
    """Holds a delivery to a recently resolved webhook URL to its tenant's ingest limit
    before anything else runs: over it, 429 at once; within it, on into the app, held."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenant = known_tenant(scope) if scope["type"] == "http" else None
        if tenant is None:
            await self.app(scope, receive, send)
            return
        try:
            admission = await admitted(scope["app"].state, tenant_id=tenant, scope=RateScope.INGEST)
        except Exception:  # outside the error middleware: the route checks again, or fails there
            log.exception("the webhook gate could not check %s's limit; passing it on", tenant)
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state[STATE_KEY], state[HELD_TENANT] = admission, tenant
        if admission.allowed:
            await self.app(scope, receive, send)
            return
        note_refused(scope["app"].state, tenant)
        # A plain response never calls ``receive``: the body stays unread, however long
        # it claims to be. The security headers are added here, outside their middleware,
        # and so is the request's telemetry: its X-Request-ID (on the answer and in the
        # problem), its log line, span and metrics, labelled with the webhook route.
        refusal = refused_answer(RateLimited(admission, tenant_id=tenant))
        scope["route"] = WEBHOOK_ROUTE
        answer = RequestTelemetry(SecurityHeaders(refusal), tenant_of=lambda _scope: tenant)
        await answer(scope, receive, send)


def known_tenant(scope: Scope) -> str | None:
    """The tenant of a POST to a webhook URL this process resolved lately, else None."""
    path: str = scope["path"]
    if scope["method"] != "POST" or not path.startswith(WEBHOOK_PREFIX):
        return None
    tokens: RecentTokens | None = getattr(scope["app"].state, "webhook_tenants", None)
    return tokens.tenant_of(path.rsplit("/", 1)[-1]) if tokens is not None else None
