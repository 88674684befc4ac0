"""The FastAPI application factory. No work at import: ``create_app(app)`` wires it."""

from __future__ import annotations

from fastapi import FastAPI

from orderops import __version__, redaction
from orderops.agent_tools import http as agent_tools_http
from orderops.api import (
    access_scopes,
    actions,
    admin,
    backtests,
    case_work,
    cases,
    choices,
    communications,
    connections,
    docs,
    events,
    evidence,
    health,
    holds,
    idempotency,
    inbox,
    incidents,
    links,
    metrics,
    openapi,
    outbox,
    playbook_pins,
    problems,
    queues,
    rate_limits,
    recommendations,
    shadow,
    usage,
    webhook_subscriptions,
    webhooks,
)
from orderops.api.environment_header import EnvironmentHeader
from orderops.api.etags import ConditionalGets
from orderops.api.nul_guard import RefuseNul
from orderops.api.security_headers import SecurityHeaders
from orderops.api.webhook_gate import GatedAPI
from orderops.bootstrap import App
from orderops.console.router import router as console_router
from orderops.telemetry.requests import RequestTelemetry

ROUTERS = (
    health.router,
    metrics.router,
    events.router,
    inbox.router,
    webhooks.router,
    cases.router,
    incidents.router,
    case_work.router,
    queues.router,
    actions.router,
    choices.router,
    communications.router,
    evidence.router,
    outbox.router,
    holds.router,
    admin.router,
    connections.router,
    access_scopes.router,
    recommendations.router,
    playbook_pins.router,
    links.router,
    usage.router,
    shadow.router,
    backtests.router,
    webhook_subscriptions.router,
    console_router,
)


def create_app(app: App) -> FastAPI:
    api = GatedAPI(  # a flooding tenant's webhooks refused outside every middleware
        title="OrderOps",
        version=__version__,
        description="Exception desk for e-commerce orders: events in, cases out.",
        docs_url=None,
        redoc_url=None,
    )
    api.state.orderops = app
    redaction.install()
    problems.install(api)
    webhooks.install(api)
    usage.install(api)  # API calls counted, quota warnings on answers, quota refusals: 429
    for router in ROUTERS:
        api.include_router(router)
    docs.install(api)
    openapi.install(api)
    api.add_middleware(ConditionalGets)  # ETag and 304 on GETs; inside the rate-limit headers
    rate_limits.install(api)  # 429 in the document: api/openapi.py implies it for keyed routes
    agent_tools_http.install(api)  # /mcp: the agents' tool API, with the app's rate limiter
    idempotency.install(api)  # Idempotency-Key on keyed POSTs: a retry gets the first answer
    api.add_middleware(EnvironmentHeader)  # the key's environment on every answer to it
    api.add_middleware(RefuseNul)
    api.add_middleware(SecurityHeaders)  # outermost: on every answer, the guard's too
    api.add_middleware(RequestTelemetry, tenant_of=metrics.caller_tenant)  # id, log, span
    return api
