"""Outbound webhooks: what a retailer's receiver sees, on SQLite and PostgreSQL.

A threaded HTTP receiver on 127.0.0.1 plays the retailer's system, answering each request
with the next status of its script. Signatures are checked by a verifier written here
from the Standard Webhooks specification (``{id}.{timestamp}.{body}``, HMAC-SHA256 under
the base64 key after ``whsec_``, ``v1,<base64>`` entries space-delimited), never by
calling the desk's own signer. Subscriptions are made through the API as an admin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.access import Person, client, person
from builders.case_work import open_payment_case
from builders.writeback import make_case
from orderops.bootstrap import App
from orderops.cases.cases import record
from orderops.decide.transitions import resolve
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.outbound.delivery import OutboundRuntime, run_outbound_once
from orderops.outbound.settings import OutboundSettings
from orderops.storage.tables import Case, OutboxMessage
from orderops.storage.uow import UnitOfWork

BASE = "/v1/webhook-subscriptions"


# -- the receiver -------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """The retailer's endpoint: records every request, answers from ``script`` in turn
    (then 200 for ever), each answer a status and optional headers."""

    url: str = ""
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        with self.lock:
            self.received.append(Received(headers, body))
            return self.script.pop(0) if self.script else (200, {})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status, extra = state.answer({k.lower(): v for k, v in self.headers.items()}, body)
            payload = b'{"ok": true}' if status < 300 else b'{"error": "receiver says no"}'
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# -- the reference verifier (from the spec, not from our code) ----------------------------


def signatures_valid_for(secret: str, received: Received) -> list[bool]:
    """For each ``v1`` signature in the header, whether ``secret`` made it."""
    key = base64.b64decode(secret[len("whsec_") :])
    msg_id = received.headers["webhook-id"]
    timestamp = received.headers["webhook-timestamp"]
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + received.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    found = []
    for entry in received.headers["webhook-signature"].split(" "):
        version, _, signature = entry.partition(",")
        found.append(version == "v1" and hmac.compare_digest(signature, expected))
    return found


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDEROPS_OUTBOUND_WEBHOOKS_ALLOW_LOOPBACK", "true")


@pytest.fixture
def http(app: App) -> Iterator[TestClient]:
    with client(app) as c:
        yield c


@pytest.fixture
def admin(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.ADMIN)


@pytest.fixture
def runtime(clock: FixedClock) -> Iterator[OutboundRuntime]:
    settings = OutboundSettings(
        allow_loopback=True,
        timeout_seconds=5,
        max_attempts=4,
        base_delay_seconds=10,
        max_delay_seconds=600,
        disable_after_failures=3,
        disable_after_hours=1,
    )
    made = OutboundRuntime(settings=settings, clock=clock, wall_clock=clock, rand=lambda: 0.5)
    yield made
    made.close()


def subscribe(http: TestClient, admin: Person, url: str, *types: str) -> dict[str, Any]:
    answer = http.post(
        BASE,
        json={"url": url, "event_types": list(types or ["case.opened"])},
        headers=admin.headers,
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def deliver(app: App, runtime: OutboundRuntime) -> int:
    return run_outbound_once(app, worker_id="hooks-1", runtime=runtime)


def log_of(http: TestClient, admin: Person, subscription_id: str) -> list[dict[str, Any]]:
    answer = http.get(f"{BASE}/{subscription_id}/deliveries", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


# -- delivery -----------------------------------------------------------------------------


def test_an_opened_case_reaches_the_receiver_once_signed_per_the_spec(
    app: App,
    clock: FixedClock,
    http: TestClient,
    admin: Person,
    receiver: Receiver,
    runtime: OutboundRuntime,
) -> None:
    sub = subscribe(http, admin, receiver.url, "case.opened")
    case_id = open_payment_case(app, clock, "o-100")

    assert deliver(app, runtime) == 1
    assert deliver(app, runtime) == 0  # nothing left: a second pass sends nothing

    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert signatures_valid_for(sub["secret"], got) == [True]
    assert got.headers["content-type"] == "application/json"
    assert int(got.headers["webhook-timestamp"]) == int(clock.now().timestamp())
    event = json.loads(got.body)
    assert event["id"] == got.headers["webhook-id"]
    assert event["type"] == "case.opened"
    assert event["environment"] == "live"
    assert event["data"]["case"]["id"] == case_id
    assert event["data"]["case"]["type"] == "payment_failed"
    assert event["data"]["case"]["order_ref"] == "o-100"
    (delivery,) = log_of(http, admin, sub["id"])
    assert (delivery["status"], delivery["event_id"], delivery["attempts"]) == (
        "delivered",
        event["id"],
        1,
    )
    (attempt,) = delivery["log"]
    assert (attempt["outcome"], attempt["status_code"]) == ("delivered", 200)
    assert attempt["latency_ms"] is not None
    assert attempt["latency_ms"] >= 0
    assert attempt["response_body"] == '{"ok": true}'


def test_only_the_types_subscribed_to_are_sent(
    app: App,
    clock: FixedClock,
    http: TestClient,
    admin: Person,
    receiver: Receiver,
    runtime: OutboundRuntime,
) -> None:
    subscribe(http, admin, receiver.url, "case.resolved")
    case_id = open_payment_case(app, clock, "o-101")
    assert deliver(app, runtime) == 0  # case.opened: nobody wants it

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        resolve(uow, case, actor="user:someone", now=clock.now(), reason="refunded by phone")
        uow.commit()
    assert deliver(app, runtime) == 1

    (got,) = receiver.received
    event = json.loads(got.body)
    assert event["type"] == "case.resolved"
    assert event["data"]["case"]["status"] == "resolved"
    assert event["data"]["case"]["close_reason"] == "refunded by phone"


def test_a_rolled_back_change_sends_nothing_and_a_committed_one_is_queued_with_it(
    app: App, clock: FixedClock, http: TestClient, admin: Person, receiver: Receiver
) -> None:
    subscribe(http, admin, receiver.url, "case.opened")
    case_id = make_case(app, clock, order_ref="o-102", status="new")

    def opened(commit: bool) -> None:
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            case = uow.session.get(Case, case_id)
            assert case is not None
            record(uow, case, at=clock.now(), actor="test", kind="opened", summary="opened")
            if commit:
                uow.commit()

    opened(commit=False)
    assert webhook_rows(app) == 0
    opened(commit=True)
    assert webhook_rows(app) == 1


def webhook_rows(app: App) -> int:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return (
            uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.tenant_id == "acme", OutboxMessage.system == "webhook")
            )
            or 0
        )


def test_a_500_then_a_429_are_retried_with_backoff_and_retry_after_then_delivered(
    app: App,
    clock: FixedClock,
    http: TestClient,
    admin: Person,
    receiver: Receiver,
    runtime: OutboundRuntime,
) -> None:
    sub = subscribe(http, admin, receiver.url)
    receiver.script = [(500, {}), (429, {"Retry-After": "120"})]
    open_payment_case(app, clock, "o-103")

    assert deliver(app, runtime) == 1  # 500
    (delivery,) = log_of(http, admin, sub["id"])
    assert delivery["status"] == "pending"
    # base 10 s, jitter 0.5 of it at rand 0.5: 7.5 s after the first attempt
    assert delivery["next_attempt_at"] == _iso(clock.now() + timedelta(seconds=7.5))
    assert deliver(app, runtime) == 0  # not due yet

    clock.advance(timedelta(seconds=8))
    assert deliver(app, runtime) == 1  # 429, Retry-After 120 beats the 15 s backoff
    (delivery,) = log_of(http, admin, sub["id"])
    assert delivery["next_attempt_at"] == _iso(clock.now() + timedelta(seconds=120))
    clock.advance(timedelta(seconds=60))
    assert deliver(app, runtime) == 0

    clock.advance(timedelta(seconds=61))
    assert deliver(app, runtime) == 1  # 200
    (delivery,) = log_of(http, admin, sub["id"])
    assert delivery["status"] == "delivered"
    assert [(a["outcome"], a["status_code"]) for a in delivery["log"]] == [
        ("retry", 500),
        ("retry", 429),
        ("delivered", 200),
    ]
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 3
    assert len(ids) == 1  # one event, one id to dedupe by
    assert all(signatures_valid_for(sub["secret"], r) == [True] for r in receiver.received)


def test_a_400_is_not_retried_and_a_redelivery_sends_the_same_event_again(
    app: App,
    clock: FixedClock,
    http: TestClient,
    admin: Person,
    receiver: Receiver,
    runtime: OutboundRuntime,
) -> None:
    sub = subscribe(http, admin, receiver.url)
    receiver.script = [(400, {})]
    open_payment_case(app, clock, "o-104")

    assert deliver(app, runtime) == 1
    clock.advance(timedelta(hours=3))
    assert deliver(app, runtime) == 0
    (delivery,) = log_of(http, admin, sub["id"])
    assert delivery["status"] == "failed"
    assert "HTTP 400" in delivery["dead_letter_reason"]
    assert [a["outcome"] for a in delivery["log"]] == ["failed"]
    assert delivery["log"][0]["response_body"] == '{"error": "receiver says no"}'

    again = http.post(
        f"{BASE}/{sub['id']}/deliveries/{delivery['id']}/redeliver", headers=admin.headers
    )
    assert again.status_code == 202, again.text
    twice = http.post(
        f"{BASE}/{sub['id']}/deliveries/{delivery['id']}/redeliver", headers=admin.headers
    )
    assert twice.status_code == 409  # queued already
    assert deliver(app, runtime) == 1
    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery["event_id"]] * 2
    (delivery,) = log_of(http, admin, sub["id"])
    assert delivery["status"] == "delivered"


def test_gives_up_after_the_last_attempt_and_switches_off_a_failing_endpoint(
    app: App,
    clock: FixedClock,
    http: TestClient,
    admin: Person,
    receiver: Receiver,
    runtime: OutboundRuntime,
) -> None:
    sub = subscribe(http, admin, receiver.url)
    receiver.script = [(503, {})] * 10
    open_payment_case(app, clock, "o-105")

    for number in range(4):  # max_attempts = 4, every 20 minutes (backoff <= 10 min)
        assert deliver(app, runtime) == 1
        if number < 3:
            read = http.get(f"{BASE}/{sub['id']}", headers=admin.headers).json()
            assert read["enabled"] is True  # 3 in a row, but not yet an hour of failing
            clock.advance(timedelta(minutes=20))
    (delivery,) = log_of(http, admin, sub["id"])
    assert delivery["status"] == "failed"
    assert "gave up after 4 attempts" in delivery["dead_letter_reason"]
    read = http.get(f"{BASE}/{sub['id']}", headers=admin.headers).json()
    # >= 3 failures in a row spanning >= 1 hour: switched off at the 4th, 60 min in.
    assert read["enabled"] is False
    assert "failed attempts in a row" in read["disabled_reason"]
    open_payment_case(app, clock, "o-106")
    assert deliver(app, runtime) == 0  # a switched-off subscription gets no new events


def test_a_410_switches_the_subscription_off_at_once(
    app: App,
    clock: FixedClock,
    http: TestClient,
    admin: Person,
    receiver: Receiver,
    runtime: OutboundRuntime,
) -> None:
    sub = subscribe(http, admin, receiver.url)
    receiver.script = [(410, {})]
    open_payment_case(app, clock, "o-107")
    assert deliver(app, runtime) == 1
    read = http.get(f"{BASE}/{sub['id']}", headers=admin.headers).json()
    assert (read["enabled"], read["disabled_reason"]) == (False, "the receiver answered 410 Gone")
    back = http.patch(f"{BASE}/{sub['id']}", json={"enabled": True}, headers=admin.headers)
    assert (back.json()["enabled"], back.json()["consecutive_failures"]) == (True, 0)


def test_during_a_rotation_both_signatures_are_sent_then_only_the_new_one(
    app: App,
    clock: FixedClock,
    http: TestClient,
    admin: Person,
    receiver: Receiver,
    runtime: OutboundRuntime,
) -> None:
    sub = subscribe(http, admin, receiver.url)
    rotated = http.post(
        f"{BASE}/{sub['id']}/rotate", json={"overlap_hours": 1}, headers=admin.headers
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != sub["secret"]
    assert new.startswith("whsec_")
    assert rotated.json()["secret_version"] == 2
    assert "secret" not in http.get(f"{BASE}/{sub['id']}", headers=admin.headers).json()

    open_payment_case(app, clock, "o-108")
    deliver(app, runtime)
    clock.advance(timedelta(hours=1, seconds=1))
    open_payment_case(app, clock, "o-109")
    deliver(app, runtime)

    during, after = receiver.received
    assert signatures_valid_for(new, during) == [True, False]
    assert signatures_valid_for(sub["secret"], during) == [False, True]
    assert signatures_valid_for(new, after) == [True]
    assert signatures_valid_for(sub["secret"], after) == [False]


# -- the API's refusals -------------------------------------------------------------------


def test_another_tenants_subscription_answers_404_and_stays_as_it_was(
    app: App, clock: FixedClock, http: TestClient, admin: Person, receiver: Receiver
) -> None:
    sub = subscribe(http, admin, receiver.url)
    other = person(app, clock, tenant="globex", role=Role.ADMIN)
    path = f"{BASE}/{sub['id']}"
    answers = [
        http.get(path, headers=other.headers),
        http.patch(path, json={"enabled": False}, headers=other.headers),
        http.post(f"{path}/rotate", headers=other.headers),
        http.get(f"{path}/deliveries", headers=other.headers),
        http.post(f"{path}/deliveries/x/redeliver", headers=other.headers),
        http.delete(path, headers=other.headers),
    ]
    assert [a.status_code for a in answers] == [404] * 6
    assert http.get(BASE, headers=other.headers).json() == []
    mine = http.get(path, headers=admin.headers).json()
    assert (mine["enabled"], mine["secret_version"]) == (True, 1)


def test_only_an_admin_manages_subscriptions(
    app: App, clock: FixedClock, http: TestClient, receiver: Receiver
) -> None:
    agent = person(app, clock, tenant="acme", role=Role.AGENT)
    answer = http.post(
        BASE, json={"url": receiver.url, "event_types": ["case.opened"]}, headers=agent.headers
    )
    assert answer.status_code == 403


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"url": "http://shop.example.com/hook", "event_types": ["case.opened"]}, "https"),
        ({"url": "ftp://shop.example.com/hook", "event_types": ["case.opened"]}, "https"),
        ({"url": "https://u:p@shop.example.com/h", "event_types": ["case.opened"]}, "credentials"),
        ({"url": "https://shop.example.com:99999/", "event_types": ["case.opened"]}, "valid URL"),
        ({"url": "not a url", "event_types": ["case.opened"]}, "url"),
        ({"url": "https://shop.example.com/h", "event_types": ["case.exploded"]}, "event_types"),
        ({"url": "https://shop.example.com/h", "event_types": []}, "event_types"),
        ({"url": "https://shop.example.com/h"}, "event_types"),
        ({"url": "https://shop.example.com/h", "event_types": ["case.opened"], "x": 1}, "x"),
    ],
)
def test_malformed_subscriptions_are_refused_with_a_clear_422(
    http: TestClient, admin: Person, body: dict[str, Any], says: str
) -> None:
    answer = http.post(BASE, json=body, headers=admin.headers)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert says in answer.text
    assert http.get(BASE, headers=admin.headers).json() == []


def test_internal_addresses_are_refused_unless_loopback_is_allowed(
    http: TestClient, admin: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDEROPS_OUTBOUND_WEBHOOKS_ALLOW_LOOPBACK", "false")
    for url in (
        "https://127.0.0.1/h",
        "https://localhost/h",
        "https://10.1.2.3/h",
        "https://[::1]/h",
    ):
        answer = http.post(
            BASE, json={"url": url, "event_types": ["case.opened"]}, headers=admin.headers
        )
        assert answer.status_code == 422, url
        assert "loopback or private" in answer.json()["detail"]


def _iso(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))
