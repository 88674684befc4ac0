"""What every sandbox shares: its ledger, its fault plan, and the ``/_sandbox`` routes.

Faults are applied by an ASGI middleware in front of the vendor routes, so every vendor
module gets the same failure vocabulary without repeating it, and the after-effect faults
can let the real handler run (and record its effect) before the answer is lost.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderops.sandbox.faults import Fault, FaultKind, FaultPlan
from orderops.sandbox.http import ApiError
from orderops.sandbox.idempotency import StoredAnswer
from orderops.sandbox.ledger import Ledger

ErrorRenderer = Callable[[int, str, str], dict[str, Any]]
"""Builds a vendor-shaped error body from (status, code, message)."""

CONTROL_PREFIX = "/_sandbox"


class FaultIn(BaseModel):
    kind: FaultKind
    count: int = Field(default=1, ge=1)
    status: int | None = None
    retry_after: float = Field(default=1.0, ge=0)
    delay: float = Field(default=0.0, ge=0)
    method: str | None = None
    path_contains: str | None = None


class SandboxControl:
    """The in-process handle tests use: inject faults, read the ledger, wait for quiet."""

    def __init__(self, *, render_error: ErrorRenderer) -> None:
        self.ledger = Ledger()
        self.faults = FaultPlan()
        self.render_error = render_error
        self._idle = threading.Condition()
        self._in_flight = 0
        self._requests: list[tuple[str, str]] = []

    def inject(self, fault: Fault) -> None:
        self.faults.add(fault)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until no request is being handled; a slow request may still apply its effect."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def requests(self) -> list[tuple[str, str]]:
        """Every vendor request so far as (method, path), in arrival order: what an effect
        cost in calls, which tests count (the control routes are not in it)."""
        with self._idle:
            return list(self._requests)

    def request_started(self, method: str, path: str) -> None:
        with self._idle:
            self._in_flight += 1
            self._requests.append((method, path))

    def request_finished(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def install(self, app: FastAPI) -> None:
        """Add the fault middleware and the ``/_sandbox`` control routes to a vendor app."""
        app.add_middleware(FaultMiddleware, control=self)

        async def render_api_error(request: Request, exc: Exception) -> Response:
            if not isinstance(exc, ApiError):
                raise exc
            body = self.render_error(exc.status, exc.code, exc.message)
            return JSONResponse(body, status_code=exc.status, headers=exc.headers)

        app.add_exception_handler(ApiError, render_api_error)

        @app.get(f"{CONTROL_PREFIX}/ledger")
        async def read_ledger() -> dict[str, Any]:
            return {"entries": [entry.as_json() for entry in self.ledger.entries()]}

        @app.delete(f"{CONTROL_PREFIX}/ledger", status_code=204)
        async def clear_ledger() -> None:
            self.ledger.clear()

        @app.post(f"{CONTROL_PREFIX}/faults", status_code=201)
        async def add_fault(body: FaultIn) -> dict[str, Any]:
            self.inject(Fault(**body.model_dump()))
            return {"pending": len(self.faults.pending())}

        @app.delete(f"{CONTROL_PREFIX}/faults", status_code=204)
        async def clear_faults() -> None:
            self.faults.clear()


def replayable_response(answer: StoredAnswer, headers: dict[str, str] | None = None) -> Response:
    """The stored answer, marked the way Stripe marks a replay."""
    all_headers = dict(headers or {})
    if answer.replayed:
        all_headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer.body, status_code=answer.status, headers=all_headers)


def format_retry_after(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


class FaultMiddleware:
    def __init__(self, app: ASGIApp, control: SandboxControl) -> None:
        self.app = app
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        self.control.request_started(scope["method"], scope["path"])
        try:
            fault = self.control.faults.take(scope["method"], scope["path"])
            await self._handle(fault, scope, receive, send)
        finally:
            self.control.request_finished()

    async def _handle(
        self, fault: Fault | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind is FaultKind.SLOW:
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, send)
            return
        if fault.kind in (FaultKind.CRASH_AFTER_EFFECT, FaultKind.DROP_AFTER_EFFECT):
            await self.app(scope, receive, _swallow)
            if fault.kind is FaultKind.CRASH_AFTER_EFFECT:
                await self._send_error(
                    send, fault, "internal_error", "sandbox crashed after effect"
                )
            else:
                await _drop_connection(send)
            return
        messages = {
            FaultKind.RATE_LIMIT: ("rate_limit", "Too many requests; retry later."),
            FaultKind.SERVER_ERROR: ("api_error", "The sandbox failed before applying anything."),
            FaultKind.CONFLICT: ("conflict", "The resource was changed by another request."),
            FaultKind.VALIDATION: ("invalid_request", "The request failed validation."),
        }
        code, text = messages[fault.kind]
        await self._send_error(send, fault, code, text)

    async def _send_error(self, send: Send, fault: Fault, code: str, message: str) -> None:
        status = fault.effective_status
        body = json.dumps(self.control.render_error(status, code, message)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        if fault.kind is FaultKind.RATE_LIMIT:
            headers.append((b"retry-after", format_retry_after(fault.retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _swallow(message: Message) -> None:
    """Discard the real response: the effect happened, the client will never hear of it."""


async def _drop_connection(send: Send) -> None:
    """Start a response and never finish it; the server closes the connection."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"1024")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})
