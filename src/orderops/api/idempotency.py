"""``Idempotency-Key`` on the API's state-changing POSTs: a retry gets the first answer.

Two parts, each in one place rather than on each route:

- ``IdempotencyKeys`` (pure ASGI middleware) notices a keyed POST under ``/v1/``, reads
  its body once (it is handed on unchanged), fingerprints method, path, query and body,
  and afterwards stores the answer of a request that claimed its key;
- ``claim`` runs in the bearer-key dependency (``api/auth.require``), once the tenant and
  the key's owner are known and the caller is allowed: it claims the key in the database
  (``storage/idempotency_keys.py``) before the route executes.

Same key, same request: the stored status and body are answered again, with
``Idempotent-Replayed: true``, and nothing executes. Same key, another request: 422
problem ``idempotency-key-reused``. Same key while the first request still runs: 409
problem ``idempotency-key-in-use`` with ``Retry-After``. Keys are per tenant and key
owner and kept 24 hours. A server error is not stored: the claim is released, so the
retry executes. An answer that shows a secret once (an API key, a signing secret: routes
depending on ``shows_secret``) is never stored, nor cached on the way (``Cache-Control:
no-store``): its retry answers 409 ``idempotency-answer-not-kept`` and executes nothing,
so a retry neither issues a second secret nor reads the first one back from our tables.
Webhook deliveries (``/v1/webhooks/``) are deduplicated by their provider's event ids
instead, and the key is ignored there.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderops.api.problems import PROBLEM_MEDIA_TYPE, problem
from orderops.bootstrap import App
from orderops.ingest.intake import DEAD_LETTER_BODY_LIMIT
from orderops.storage import idempotency_keys as keys
from orderops.tenancy.tenants import Principal

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
STATE_KEY = "orderops_idempotency"
KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
"""1 to 255 visible ASCII characters (a UUID is the usual choice)."""
_KEY_RE = re.compile(KEY_PATTERN)
SKIPPED_PREFIXES = ("/v1/webhooks/",)
MAX_STORED_BODY = 1024 * 1024
"""Answers larger than this are not kept (none of the API's POST answers comes close)."""


@dataclass
class Pending:
    """A keyed request on its way: its fingerprint, and the key once it is claimed."""

    key: str
    fingerprint: str
    claimed: keys.KeyOf | None = None
    status: int = 0
    content_type: str | None = None
    body: list[bytes] = field(default_factory=list)
    secret: bool = False
    """The answer shows a secret once: it is not kept (``shows_secret``)."""


class Replay(Exception):
    """Not an error: the key was answered before, and this is that answer again."""

    def __init__(self, answered: keys.Answered) -> None:
        self.answered = answered


class IdempotencyRefused(HTTPException):
    """A key this request may not use; rendered as problem+json with ``code``."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(status, detail, headers=headers)
        self.code = code


def install(api: FastAPI) -> None:
    api.add_exception_handler(Replay, _replayed)  # type: ignore[arg-type]
    api.add_middleware(IdempotencyKeys)


def claim(request: Request, principal: Principal) -> None:
    """Claim the request's key for ``principal`` (from a sync dependency), or answer for it:
    ``Replay`` with the first answer, or a refusal."""
    pending: Pending | None = request.scope.get("state", {}).get(STATE_KEY)
    if pending is None or pending.claimed is not None:
        return
    app: App = request.app.state.orderops
    which = keys.KeyOf(principal.tenant_id, principal.identity, pending.key)
    outcome = keys.claim(app.sessions, which, fingerprint=pending.fingerprint, now=app.clock.now())
    if isinstance(outcome, keys.Claimed):
        pending.claimed = which
    elif isinstance(outcome, keys.Answered):
        raise Replay(outcome)
    elif isinstance(outcome, keys.Mismatch):
        raise IdempotencyRefused(
            422,
            "idempotency-key-reused",
            "this Idempotency-Key was used for a different request (method, path or body); "
            "use a new key for a new request",
        )
    else:
        raise IdempotencyRefused(
            409,
            "idempotency-key-in-use",
            "a request with this Idempotency-Key is still being processed; retry later",
            headers={"Retry-After": "1"},
        )


def shows_secret(request: Request, response: Response) -> None:
    """A route dependency for answers that show a secret once: no cache keeps them, and
    neither does the idempotency table."""
    response.headers["Cache-Control"] = "no-store"
    pending: Pending | None = request.scope.get("state", {}).get(STATE_KEY)
    if pending is not None:
        pending.secret = True


NOT_KEPT = bytes(
    problem(
        409,
        "idempotency-answer-not-kept",
        "Conflict",
        "the request with this Idempotency-Key succeeded and showed a secret once; secrets "
        "are not kept, so it cannot be shown again: list what it made, and rotate it if the "
        "secret was lost",
    ).body
)


async def _replayed(_request: Request, exc: Replay) -> Response:
    answered = exc.answered
    return Response(
        answered.body,
        status_code=answered.status,
        media_type=answered.content_type,
        headers={REPLAYED_HEADER: "true"},
    )


class IdempotencyKeys:
    """Reads a keyed POST's body for its fingerprint, and stores the answer of a request
    whose key was claimed (or releases the claim after a server error)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _key_of(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not _KEY_RE.match(key):
            refusal = problem(
                400,
                "invalid-idempotency-key",
                "Bad Request",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )
            await refusal(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            refusal = problem(
                413, "payload-too-large", "Payload Too Large", "the body is over the size limit"
            )
            await refusal(scope, receive, send)
            return
        pending = Pending(key=key, fingerprint=_fingerprint(scope, body))
        scope.setdefault("state", {})[STATE_KEY] = pending
        await self._run(scope, _replaying(body, receive), send, pending)

    async def _run(self, scope: Scope, receive: Receive, send: Send, pending: Pending) -> None:
        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                pending.status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        pending.content_type = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                pending.body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await _settle(scope, pending, stored=False)
            raise
        await _settle(scope, pending, stored=True)


async def _settle(scope: Scope, pending: Pending, *, stored: bool) -> None:
    which = pending.claimed
    if which is None:
        return
    app: App = scope["app"].state.orderops
    body = b"".join(pending.body)
    if stored and pending.status < 500 and len(body) <= MAX_STORED_BODY:
        shown_once = pending.secret and pending.status < 300
        await run_in_threadpool(
            keys.answer,
            app.sessions,
            which,
            fingerprint=pending.fingerprint,
            status=409 if shown_once else pending.status,
            content_type=PROBLEM_MEDIA_TYPE if shown_once else pending.content_type,
            body=NOT_KEPT if shown_once else body,
        )
    else:
        await run_in_threadpool(keys.release, app.sessions, which, fingerprint=pending.fingerprint)


def _key_of(scope: Scope) -> str | None:
    if scope["type"] != "http" or scope["method"] != "POST":
        return None
    path: str = scope["path"]
    if not path.startswith("/v1/") or path.startswith(SKIPPED_PREFIXES):
        return None
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            text: str = value.decode("latin-1")
            return text
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None when it is over the size limit."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > DEAD_LETTER_BODY_LIMIT:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: a disconnect, when it comes

    return replay


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1")):
        digest.update(part.encode("utf-8") + b"\n")
    digest.update(body)
    return digest.hexdigest()


def header_parameter() -> dict[str, Any]:
    """The ``Idempotency-Key`` parameter as the OpenAPI document names it."""
    return {
        "name": HEADER,
        "in": "header",
        "required": False,
        "description": "Makes the request safe to retry: the first answer to this key "
        "(status and body) is stored for 24 hours and answered again, with "
        f"`{REPLAYED_HEADER}: true`, to a retry with the same key and request, without "
        "executing it again. The same key with a different request is a 422 problem "
        "(`idempotency-key-reused`); while the first request runs, a 409 "
        "(`idempotency-key-in-use`). Keys are per tenant and API key owner.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": KEY_PATTERN},
        "example": "5f0c6c1e-8f36-4d8a-9d0e-2b7c1c8b9a41",
    }
