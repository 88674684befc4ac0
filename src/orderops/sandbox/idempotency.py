"""Idempotency-Key semantics as Stripe defines them, shared by the sandboxes that honour it.

The first request with a key runs and its answer is stored; the same key with the same
parameters replays that answer; the same key with other parameters is refused. The check
and the effect happen under one lock, so two concurrent retries cannot both run.

A store may forget answers older than a retention window, as Stripe prunes keys once they
are 24 hours old: a key reused after that runs as a new request, and a second effect is
what a client relying on the key alone would get.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from orderops.domain.clock import Clock, SystemClock
from orderops.sandbox.http import ApiError, fingerprint


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: dict[str, Any]
    replayed: bool


class IdempotencyMismatch(Exception):
    """The key was used before with different parameters."""


class IdempotencyStore:
    def __init__(self, *, clock: Clock | None = None, retention: timedelta | None = None) -> None:
        """``retention``: how long an answer is kept (None: for ever), by ``clock``."""
        self._lock = threading.RLock()
        self._answers: dict[tuple[str, str], tuple[str, int, dict[str, Any], datetime]] = {}
        self._clock = clock or SystemClock()
        self._retention = retention

    @property
    def lock(self) -> threading.RLock:
        """Also guards the sandbox state, so a request without a key cannot interleave."""
        return self._lock

    def execute(
        self,
        *,
        scope: str,
        key: str | None,
        request_fingerprint: str,
        action: Callable[[], tuple[int, dict[str, Any]]],
    ) -> StoredAnswer:
        """Run ``action`` once per (scope, key); replay its answer to later identical calls."""
        with self._lock:
            if key is None:
                status, body = action()
                return StoredAnswer(status, body, replayed=False)
            now = self._clock.now()
            stored = self._answers.get((scope, key))
            if stored is not None and not self._expired(stored[3], now):
                seen_fingerprint, status, body, _ = stored
                if seen_fingerprint != request_fingerprint:
                    raise IdempotencyMismatch(key)
                return StoredAnswer(status, body, replayed=True)
            status, body = action()
            self._answers[(scope, key)] = (request_fingerprint, status, body, now)
            return StoredAnswer(status, body, replayed=False)

    def _expired(self, stored_at: datetime, now: datetime) -> bool:
        return self._retention is not None and now - stored_at >= self._retention


JsonEffect = Callable[[dict[str, Any], str | None], tuple[int, dict[str, Any]]]


async def idempotent_json_write(
    request: Request,
    store: IdempotencyStore,
    *,
    scope: str,
    effect: JsonEffect,
    render_error: Callable[[int, str, str], dict[str, Any]],
) -> Response:
    """Run a JSON write under Idempotency-Key rules, for APIs modelled on the IETF draft.

    Reuse of a key with another body is 422, as draft-ietf-httpapi-idempotency-key-header
    specifies; business errors raised by the effect are stored and replayed like successes.
    """
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise ApiError(400, "invalid_json", "The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    key = request.headers.get("idempotency-key")

    def action() -> tuple[int, dict[str, Any]]:
        try:
            return effect(body, key)
        except ApiError as error:
            return error.status, render_error(error.status, error.code, error.message)

    try:
        answer = store.execute(
            scope=scope,
            key=key,
            request_fingerprint=fingerprint(request.method, request.url.path, body),
            action=action,
        )
    except IdempotencyMismatch as mismatch:
        raise ApiError(
            422,
            "idempotency_key_reused",
            f"Idempotency-Key '{mismatch}' was already used with a different request.",
        ) from mismatch
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)
