"""Conditional GETs: an ``ETag`` on every JSON answer of the API, and 304 for a match.

Pure ASGI middleware, in one place rather than on each route: a ``GET`` under ``/v1/``
answered 200 with JSON gets a weak ``ETag`` (``W/"<hash of the body>"``) unless the route
set one; a request whose ``If-None-Match`` names that tag (or ``*``) is answered
``304 Not Modified`` with the tag and no body. The body is still built (the check is on
what would be sent), so a 304 saves the transfer, not the query.

Changes are guarded by versions, not by these tags: a route that changes a resource
takes the version the caller saw as ``If-Match: "<version>"`` (or a ``version`` field)
and answers a stale one 412 (If-Match) or 409 (field), see ``api/work_common.py``. A
weak tag is never accepted by If-Match (RFC 9110 compares If-Match strongly), so the two
cannot be confused.

Actions and holds have no version column; their state is their tag. ``state_tag`` is a
strong ``ETag`` of what the API shows of one (the hash of its canonical JSON), sent by
their GET and by every change's answer; ``check_if_match`` refuses a change whose
``If-Match`` names none of the current tags (412 problem ``stale-etag``). The check reads
the resource just before the change runs, in its own transaction: two changes racing
through that gap are settled by the resource's own state checks (an action approved or
rejected twice, a hold released twice: 409), not by the tag.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from fastapi import Header
from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderops.domain.errors import Conflict

PREFIX = "/v1/"
MAX_TAGGED_BODY = 8 * 1024 * 1024
"""Bodies over this are passed on untagged rather than held in memory."""


class ConditionalGets:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        wanted = Headers(scope=scope).get("if-none-match")
        start: Message = {}
        chunks: list[bytes] = []
        mode = "hold"  # "pass": forward as is; "drop": a 304 was sent, drop the body

        async def hold(message: Message) -> None:
            nonlocal start, mode
            if mode == "pass":
                await send(message)
            elif mode == "drop":
                return
            elif message["type"] == "http.response.start":
                start = message
                mode = await _on_start(message, wanted, send)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if sum(map(len, chunks)) > MAX_TAGGED_BODY:
                    mode = "pass"
                    await send(start)
                    more = message.get("more_body", False)
                    await send(
                        {"type": "http.response.body", "body": b"".join(chunks), "more_body": more}
                    )
                elif not message.get("more_body", False):
                    await _tagged(start, b"".join(chunks), wanted, send)
            else:
                await send(message)

        await self.app(scope, receive, hold)


async def _on_start(start: Message, wanted: str | None, send: Send) -> str:
    """What to do with the answer: hold its body to tag it, pass it, or drop it (304)."""
    headers = Headers(raw=start.get("headers", []))
    if start["status"] == 200 and "etag" in headers:  # the route's own tag (evidence: its hash)
        if wanted is not None and _matches(wanted, headers["etag"]):
            await send(_not_modified(start, headers["etag"]))
            await send({"type": "http.response.body", "body": b""})
            return "drop"
    elif start["status"] == 200 and "json" in headers.get("content-type", ""):
        return "hold"
    await send(start)
    return "pass"


async def _tagged(start: Message, body: bytes, wanted: str | None, send: Send) -> None:
    tag = 'W/"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if wanted is not None and _matches(wanted, tag):
        await send(_not_modified(start, tag))
        await send({"type": "http.response.body", "body": b""})
        return
    MutableHeaders(scope=start).append("ETag", tag)
    await send(start)
    await send({"type": "http.response.body", "body": body})


def _matches(if_none_match: str, tag: str) -> bool:
    """RFC 9110's weak comparison: ``W/`` is ignored on both sides."""
    if if_none_match.strip() == "*":
        return True
    opaque = tag.removeprefix("W/")
    return any(part.strip().removeprefix("W/") == opaque for part in if_none_match.split(","))


def _not_modified(start: Message, tag: str) -> Message:
    """The 304: the tag and the caching and rate-limit headers, never the body's."""
    kept = [
        (name, value)
        for name, value in start.get("headers", [])
        if name.lower() not in (b"content-type", b"content-length", b"etag")
    ]
    return {
        "type": "http.response.start",
        "status": 304,
        "headers": [*kept, (b"etag", tag.encode("latin-1"))],
    }


IfMatchTag = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag you read (strong, as GET sent it): 412 if the resource changed.",
    ),
]


class StaleResource(Conflict):
    """``If-Match`` names a state the resource is no longer in (412 with If-Match)."""

    code = "stale-etag"


def state_tag(model: BaseModel) -> str:
    """A strong ETag of a resource's state: its JSON with sorted keys, hashed, so the
    order a database keeps a JSON column's keys in does not change it."""
    canonical = json.dumps(model.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


def check_if_match(if_match: str | None, current: str) -> None:
    """Nothing without If-Match; else ``*`` or one of its strong tags must be ``current``
    (RFC 9110 13.1.1: a weak tag never matches)."""
    if if_match is None or if_match.strip() == "*":
        return
    offered = [part.strip() for part in if_match.split(",")]
    if current not in [tag for tag in offered if not tag.startswith("W/")]:
        raise StaleResource(
            f"If-Match {if_match.strip()[:80]!r} is not the current state {current}: read it again"
        )
