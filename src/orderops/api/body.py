"""JSON request bodies of the API routes, read through the one safe parser.

FastAPI parses a route's JSON body with ``json.loads``: a NUL character reaches the
database (and fails there on PostgreSQL), nesting and huge integers fail as a generic
error. Routes built with ``SafeJsonRoute`` read the body with ``ingest.safe_json``
instead, so each of those is refused at the door with the parser's reason (400).
``POST /v1/events`` and the webhooks read their raw body themselves and dead-letter it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from orderops.ingest import safe_json


class BodyRefused(HTTPException):
    """A body the safe parser refused; rendered as problem+json with the parser's code."""

    def __init__(self, refusal: safe_json.UnsafeJson) -> None:
        super().__init__(400, refusal.message)
        self.code = refusal.reason_code.replace("_", "-")


class SafeJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = safe_json.loads(await self.body())
            except safe_json.UnsafeJson as exc:
                raise BodyRefused(exc) from exc
        return self._json


class SafeJsonRoute(APIRoute):
    """An API route whose JSON body is read by ``ingest.safe_json``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def safe(request: Request) -> Response:
            return await handler(SafeJsonRequest(request.scope, request.receive))

        return safe
