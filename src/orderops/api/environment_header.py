"""``OrderOps-Environment: live|test`` on every answer to a request an API key made.

A test key and a live key look alike in a client's configuration; the header lets the
client (and whoever reads its logs) see which environment answered, on success and on
refusal alike. The auth dependency notes the key's environment in the request's scope
state; this middleware copies it onto the response as it starts, so answers a route builds
itself (``JSONResponse``, problem+json) carry it too. A request without a key (a webhook,
the console, /metrics) gets none.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "OrderOps-Environment"
_STATE_KEY = "orderops_environment"


def note_environment(request: Request, environment: str) -> None:
    request.state.orderops_environment = str(environment)


class EnvironmentHeader:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # One dict shared with every Request made from this scope, created before the
        # routes run so that their notes land where this middleware reads.
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_environment(message: Message) -> None:
            environment = state.get(_STATE_KEY)
            if message["type"] == "http.response.start" and environment:
                MutableHeaders(scope=message)[HEADER] = environment
            await send(message)

        await self.app(scope, receive, send_with_environment)
