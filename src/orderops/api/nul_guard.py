"""No NUL character reaches a query from a URL, on any route.

PostgreSQL text cannot hold ``\\x00``: a NUL in a path or query parameter failed as a
500 deep in the database driver. The API's routes declare NUL-free parameters (see
``api.params``), which the OpenAPI document shows; this guard answers the same 422 for
every route that does not (console pages, parameters added later), before any route runs.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from orderops.api.problems import problem


def has_nul(scope: Scope) -> bool:
    raw_query: bytes = scope.get("query_string", b"")
    return "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(raw_query)


class RefuseNul:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_nul(scope):
            response = problem(
                422,
                "invalid-request",
                "Invalid request",
                "the URL holds a NUL character (%00), which no parameter accepts",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
