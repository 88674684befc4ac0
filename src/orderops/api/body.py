"""JSON request bodies of the API routes, read through the one safe parser.

FastAPI parses a route's JSON body with ``json.loads``: a NUL character reaches the
database (and fails there on PostgreSQL), nesting and huge integers fail as a generic
error. Routes built with ``SafeJsonRoute`` read the body with ``ingest.safe_json``
instead, so each of those is refused at the door with the parser's reason (400). The
body is read at most the route's limit far (``SafeJsonRoute.max_body_bytes``; the
desk's ``max_request_bytes``, 4 MiB, when the route sets none): a larger one is 413
``payload-too-large`` unread, where a route without a limit held any body in memory.
``POST /v1/events`` and the webhooks read their raw body themselves and dead-letter it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from orderops.api.problems import problem_responses
from orderops.ingest import safe_json


async def read_capped(request: Request, cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of the body, and whether that was all of it.

    The rest of an oversized body is never buffered, so a huge post costs ``cap``
    bytes of memory at most.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if size + len(chunk) > cap:
            chunks.append(chunk[: cap - size])
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), True


class BodyRefused(HTTPException):
    """A body the safe parser refused; rendered as problem+json with the parser's code."""

    def __init__(self, refusal: safe_json.UnsafeJson) -> None:
        super().__init__(400, refusal.message)
        self.code = refusal.reason_code.replace("_", "-")


class BodyTooLarge(HTTPException):
    """Rendered as problem+json 413 ``payload-too-large`` (``api/problems.py``)."""

    code = "payload-too-large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body is over {limit} bytes")


class SafeJsonRequest(Request):
    max_body_bytes: int | None = None
    """Set by the route; None: the desk's ``max_request_bytes``."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            limit = self.max_body_bytes or self.app.state.orderops.settings.max_request_bytes
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise BodyTooLarge(limit)
            body, complete = await read_capped(self, limit)
            if not complete:
                raise BodyTooLarge(limit)
            self._body = body
        return self._body

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = safe_json.loads(await self.body())
            except safe_json.UnsafeJson as exc:
                raise BodyRefused(exc) from exc
        return self._json


class SafeJsonRoute(APIRoute):
    """An API route whose JSON body is read by ``ingest.safe_json``, at most
    ``max_body_bytes`` far (a subclass lowers it)."""

    max_body_bytes: int | None = None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if (self.methods or set()) & {"POST", "PUT", "PATCH"}:
            self.responses = {**problem_responses(413), **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit = self.max_body_bytes

        async def safe(request: Request) -> Response:
            bounded = SafeJsonRequest(request.scope, request.receive)
            bounded.max_body_bytes = limit
            return await handler(bounded)

        return safe
