"""Each HTTP request's id, its log line, its span and its two metrics, in one middleware.

The request id is the caller's ``X-Request-ID`` when it is a plain token (letters, digits,
``._:-``; 128 characters at most), so a retailer's own id follows the request into our
logs; anything else (too long, spaces, control characters: a header is no place to let
a caller write into our logs) is replaced by a fresh one. It is sent back on every
answer, errors included, and added as ``request_id`` to every problem+json body (RFC 9457
allows extension members), so a support request can quote it.

One log line per request after it ends: method, the route's template
(``/v1/cases/{case_id}``, never the path sent, which would carry ids and unbounded
values), status, duration, and the ids known by then: request, tenant (the API key's,
read through ``tenant_of``), case (a ``case_id`` path parameter), trace. An error that
escaped every handler is answered here as a problem+json 500 with the id (then re-raised,
so the server still logs its traceback).

Webhook deliveries refused by the gate in front of the app (``api/webhook_gate.py``) never
reach the app's copy of this middleware; the gate wraps its refusal in one of its own, so
they get their id, log line and metrics all the same (and count in
``orderops_webhook_rejected_total``).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable

from opentelemetry.trace import SpanKind
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderops.telemetry.logs import bound_ids
from orderops.telemetry.metrics import METRICS, TelemetryMetrics
from orderops.telemetry.tracing import CARRIED, span

HEADER = "X-Request-ID"
VALID_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
PROBLEM_TYPE = "application/problem+json"
UNMATCHED = "unmatched"
"""The route label of a request no route matched (a 404 for an unknown path)."""

log = logging.getLogger("orderops.requests")


def request_id_from(offered: str | None) -> str:
    """The caller's id when it is a plain token, else a new one."""
    if offered is not None and VALID_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestTelemetry:
    """ASGI middleware: request id in and out, a server span, a log line, the metrics."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        tenant_of: Callable[[Scope], str | None] = lambda _scope: None,
        metrics: TelemetryMetrics = METRICS,
    ) -> None:
        self.app = app
        self._tenant_of = tenant_of
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = {b"x-request-id", *(name.encode() for name in CARRIED)}
        headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in wanted
        }
        request_id = request_id_from(headers.get("x-request-id"))
        scope.setdefault("state", {})["request_id"] = request_id
        method = scope["method"]
        answer = _Answer(send, request_id)
        started = time.perf_counter()
        with (
            bound_ids(request_id=request_id),
            span(method, carrier=headers, kind=SpanKind.SERVER) as current,
        ):
            try:
                await self.app(scope, receive, answer.send)
            except Exception:
                await answer.internal_error()
                raise
            finally:
                seconds = time.perf_counter() - started
                route = route_of(scope)
                current.update_name(f"{method} {route}")
                current.set_attribute("http.request.method", method)
                current.set_attribute("http.route", route)
                current.set_attribute("http.response.status_code", answer.status)
                self._metrics.request(
                    method=method, route=route, status=answer.status, seconds=seconds
                )
                self._log(scope, method, route, answer.status, seconds)

    def _log(self, scope: Scope, method: str, route: str, status: int, seconds: float) -> None:
        case_id = (scope.get("path_params") or {}).get("case_id")
        log.log(
            logging.ERROR if status >= 500 else logging.INFO,
            "request",
            extra={
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "tenant": self._tenant_of(scope),
                "case_id": case_id if isinstance(case_id, str) else None,
            },
        )


class _Answer:
    """The response on its way out: the id header on it, the id in a problem body."""

    def __init__(self, send: Send, request_id: str) -> None:
        self._send = send
        self._id = request_id
        self.status = 500
        self.started = False
        self._held: Message | None = None
        self._body: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            headers = MutableHeaders(scope=message)
            headers[HEADER] = self._id
            if headers.get("content-type", "").startswith(PROBLEM_TYPE):
                self._held = message  # sent with its body, once the id is in it
                return
        elif message["type"] == "http.response.body" and self._held is not None:
            self._body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = with_request_id(b"".join(self._body), self._id)
            MutableHeaders(scope=self._held)["content-length"] = str(len(body))
            held, self._held = self._held, None
            await self._send(held)
            await self._send({"type": "http.response.body", "body": body})
            return
        await self._send(message)

    async def internal_error(self) -> None:
        if self.started:
            return
        body = json.dumps(
            {
                "type": "https://orderops.dev/problems/internal-error",
                "title": "Internal error",
                "status": 500,
                "detail": "the server met an unexpected error; quote the request id",
            }
        ).encode()
        await self.send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", PROBLEM_TYPE.encode())],
            }
        )
        await self.send({"type": "http.response.body", "body": body})


def with_request_id(body: bytes, request_id: str) -> bytes:
    """A problem+json body with ``request_id`` added (unchanged if it is not an object)."""
    try:
        problem = json.loads(body)
    except ValueError:
        return body
    if not isinstance(problem, dict) or "request_id" in problem:
        return body
    problem["request_id"] = request_id
    return json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()
