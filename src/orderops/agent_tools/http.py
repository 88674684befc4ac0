"""The tool API over streamable HTTP, at ``/mcp`` on the API app (or on its own with
``orderops mcp serve --http``).

Stateless, JSON answers: every request carries its key as ``Authorization: Bearer``, like
the REST API, and nothing of a session is kept between requests, so any API process can
answer any request. The key is checked at the door (a missing, unknown, revoked, expired or
other-environment key is 401 problem+json before the MCP layer reads the body) and again by
each tool call (``calls.py``), which also holds the call to the key's and the tenant's rate
limits. Each request gets a session manager of its own, run for that request: the app needs
no lifespan hook, and no state outlives the request.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from orderops.agent_tools.calls import ToolDesk, authenticated
from orderops.agent_tools.server import bearer, build_server
from orderops.api.problems import problem
from orderops.bootstrap import App
from orderops.domain.errors import OrderOpsError
from orderops.evidence.service import default_store
from orderops.tenancy.rate_limits import RateLimiter

PATH = "/mcp"
METHODS = ["GET", "POST", "DELETE"]


class McpEndpoint:
    """ASGI: the key checked, then one stateless MCP exchange."""

    def __init__(self, desk: ToolDesk, server: MCPServer) -> None:
        self.desk = desk
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        secret = bearer(Headers(scope=scope))
        try:
            await run_in_threadpool(authenticated, self.desk, secret)
        except OrderOpsError as exc:
            answer = problem(401, exc.code, "Unauthorized", exc.message)
            answer.headers["WWW-Authenticate"] = "Bearer"
            await answer(scope, receive, send)
            return
        manager = StreamableHTTPSessionManager(
            app=self.server._lowlevel_server,
            stateless=True,
            json_response=True,
        )
        async with manager.run():
            await manager.handle_request(scope, receive, send)


def endpoint_for(app: App, *, limiter: RateLimiter | None) -> McpEndpoint:
    desk = ToolDesk(app=app, limiter=limiter, evidence=default_store(app.settings))
    return McpEndpoint(desk, build_server(desk))


def install(api: FastAPI) -> None:
    """Mount the tool API at ``/mcp`` with the app's rate limiter (install after
    ``api/rate_limits.install``)."""
    app: App = api.state.orderops
    limiter: RateLimiter | None = getattr(api.state, "rate_limiter", None)
    endpoint = endpoint_for(app, limiter=limiter)
    api.router.routes.append(Route(PATH, endpoint, methods=METHODS, include_in_schema=False))
