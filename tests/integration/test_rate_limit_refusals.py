"""A flooding tenant's refusals cost next to nothing, and its accepts hold only its own turns.

The webhook gate (``api/webhook_gate.py``) stands outside the whole app: a delivery to a
URL the process resolved lately is held to its tenant's ingest limit before any other
middleware runs, and refused there without its body being read and without a database
write once the window is known spent. What a tenant is admitted is accepted in its own
slots (``api/ingest_slots.py``): a delivery of a tenant whose slots are all taken waits for
them, and another tenant's delivery does not wait behind it.

The app is called as ASGI on one event loop, so a test can hand a request a body that
never arrives and see what the desk does without it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event, select
from starlette.types import ASGIApp, Message, Scope, Send
from starlette.types import Receive as ASGIReceive

from builders.webhooks import Delivery, shopify, shopify_order
from orderops.api.app import create_app
from orderops.api.rate_limits import limiter_for
from orderops.api.webhook_gate import WebhookGate
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.tables import WebhookDelivery
from orderops.storage.uow import UnitOfWork

SECRET = "refusal-test-signing-secret-0123456789ab"
HUGE = 10**12
"""A content-length no test sends: the desk would wait forever for such a body."""

Receive = Callable[[], Awaitable[Message]]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def _order() -> Delivery:
    return shopify("orders/create", shopify_order(id=int(uuid.uuid4().int % 10**12)))


def _desk(app: App, clock: FixedClock, **settings: Any) -> tuple[FastAPI, dict[str, str]]:
    """The API under ``settings``, its limiter on the test's clock; each tenant's token."""
    limited = replace(app, settings=app.settings.model_copy(update=settings))
    tokens = {
        tenant: connect_source(
            app.sessions,
            tenant_id=tenant,
            source=WebhookSource.SHOPIFY,
            box=SecretBox(app.settings.secret_key),
            clock=clock,
            actor="test",
            secret=SECRET,
        ).connection.endpoint_token
        for tenant in ("acme", "globex")
    }
    api = create_app(limited)
    api.state.rate_limiter = limiter_for(limited, clock=clock)
    return api, tokens


async def _post(
    api: FastAPI,
    token: str,
    delivery: Delivery,
    clock: FixedClock,
    *,
    receive: Receive | None = None,
    length: int | None = None,
) -> Answer:
    """POST ``delivery`` to the tenant's webhook URL as ASGI; ``receive`` replaces the one
    that hands over the whole body, ``length`` the content-length it claims."""
    path = f"/v1/webhooks/shopify/{token}"
    headers = {**delivery.signed(SECRET, clock.now()), "content-length": str(length or 0)}
    if length is None:
        headers["content-length"] = str(len(delivery.body))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("desk", 80),
    }
    sent: list[Message] = []

    async def whole_body() -> Message:
        return {"type": "http.request", "body": delivery.body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await api(scope, receive or whole_body, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Answer(start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body)


def _entered(app: ASGIApp, paths: list[str]) -> ASGIApp:
    """``app``, noting the path of every request that reaches it."""

    async def noting(scope: Scope, receive: ASGIReceive, send: Send) -> None:
        paths.append(scope["path"])
        await app(scope, receive, send)

    return noting


def _stored(app: App, tenant: str) -> int:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        return len(uow.session.scalars(select(WebhookDelivery.id)).all())


def _refused(answer: Answer) -> bool:
    return (
        answer.status == 429
        and answer.headers["content-type"] == "application/problem+json"
        and json.loads(answer.body)["type"].endswith("/rate-limited")
    )


def test_a_flood_past_the_limit_writes_once_per_window_to_learn_it_is_spent_then_nothing(
    app: App, clock: FixedClock
) -> None:
    api, tokens = _desk(app, clock, rate_limit_ingest_per_tenant="1/second")
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    async def scenario() -> list[Answer]:
        admitted = await _post(api, tokens["acme"], _order(), clock)
        assert admitted.status == 202
        event.listen(app.engine, "before_cursor_execute", record)
        try:
            return [await _post(api, tokens["acme"], _order(), clock) for _ in range(20)]
        finally:
            event.remove(app.engine, "before_cursor_execute", record)

    flood = asyncio.run(scenario())
    assert all(_refused(answer) for answer in flood)
    writes = [s for s in statements if s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(writes) == 1, statements  # the lease that finds the window spent
    assert "rate_limit_windows" in writes[0]
    assert not [s for s in statements if "webhook" in s or "inbox" in s or "usage" in s]
    assert _stored(app, "acme") == 1


def test_a_refusal_is_answered_before_the_body_is_read_whatever_length_it_claims(
    app: App, clock: FixedClock
) -> None:
    api, tokens = _desk(app, clock, rate_limit_ingest_per_tenant="1/second")
    asked_for_body: list[bool] = []
    entered_app: list[str] = []

    async def never_ending() -> Message:
        asked_for_body.append(True)
        await asyncio.Event().wait()  # a body that never arrives
        raise AssertionError("unreachable")

    async def scenario() -> Answer:
        assert (await _post(api, tokens["acme"], _order(), clock)).status == 202
        assert _refused(await _post(api, tokens["acme"], _order(), clock))  # window spent
        gate = api.middleware_stack
        assert isinstance(gate, WebhookGate)  # outside FastAPI's and our own middleware
        gate.app = _entered(gate.app, entered_app)
        lying = _post(api, tokens["acme"], _order(), clock, receive=never_ending, length=HUGE)
        return await asyncio.wait_for(lying, timeout=10)

    answer = asyncio.run(scenario())
    assert _refused(answer), answer
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["ratelimit-policy"] == '"ingest-tenant";q=1;w=1'
    assert answer.headers["ratelimit"] == '"ingest-tenant";r=0;t=1'
    assert answer.headers["x-content-type-options"] == "nosniff"  # security headers too
    problem = json.loads(answer.body)
    assert (problem["status"], problem["policy"], problem["retry_after"]) == (
        429,
        "ingest-tenant",
        1,
    )
    assert asked_for_body == []
    assert entered_app == []  # not even the error middleware saw it


def test_a_tenant_whose_slots_are_held_keeps_its_deliveries_waiting_and_not_the_others(
    app: App, clock: FixedClock
) -> None:
    api, tokens = _desk(app, clock, ingest_concurrency_per_tenant=1)
    stalled, its_body, reading = _order(), asyncio.Event(), asyncio.Event()

    async def slow_body() -> Message:
        """The first bytes now, the rest when the test says so: acme's one slot is held."""
        if not reading.is_set():
            reading.set()
            return {"type": "http.request", "body": stalled.body[:10], "more_body": True}
        await its_body.wait()
        return {"type": "http.request", "body": stalled.body[10:], "more_body": False}

    async def scenario() -> tuple[Answer, Answer, Answer, bool]:
        first = asyncio.create_task(_post(api, tokens["acme"], stalled, clock, receive=slow_body))
        await asyncio.wait_for(reading.wait(), 10)  # acme's first holds its slot, reading
        second = asyncio.create_task(_post(api, tokens["acme"], _order(), clock))
        other = await asyncio.wait_for(_post(api, tokens["globex"], _order(), clock), 10)
        await asyncio.sleep(0.2)
        second_waited = not second.done()
        its_body.set()
        return await first, await second, other, second_waited

    first, second, other, second_waited = asyncio.run(scenario())
    assert other.status == 202  # globex was accepted while acme's slot was held
    assert second_waited  # acme's second delivery waited for acme's own slot
    assert (first.status, second.status) == (202, 202)
    assert (_stored(app, "acme"), _stored(app, "globex")) == (2, 1)
