"""A simulated day through the front door leaves no secret in the logs, the metrics or any
error body.

The desk runs on a socket (``evaluation/desk.py``) with every logger at DEBUG, SQLAlchemy's
statements and rows included. A store's day of provider webhooks is posted to it, signed,
with the Stripe signing secret rotated halfway through (an overlap, so both are in play).
People use it with API keys, sign in to the console with passwords and keep its session
cookie, an approved action reaches a Zendesk sandbox with the vendor's credentials, keys
expire and are rotated, and requests that must be refused are made: a bad key, an expired
one, a retired one, a forged signature, malformed JSON, a wrong password. Then every
captured log line, the /metrics text and every error body are searched for each secret
in play, whole and in 16-character pieces (a secret cut short is still a leak).
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from builders.access import Person, key_for, person
from builders.events import order_placed, payment
from orderops.bootstrap import App
from orderops.config import Settings
from orderops.console.accounts import set_password
from orderops.domain.roles import Role
from orderops.evaluation.desk import Desk, booted_desk
from orderops.evaluation.history import read_history
from orderops.evaluation.signing import sign
from orderops.evaluation.webhook_replay import replay_deliveries
from orderops.ingest.connections import SecretBox, WebhookSource, rotate_secret
from orderops.sandbox.runner import run_sandbox
from orderops.sandbox.zendesk import ZendeskSandbox
from orderops.sim.providers.run import write_store
from orderops.telemetry.logs import formatter as json_formatter
from orderops.tenancy.key_lifecycle import rotate_key
from orderops.tenancy.users import UserKind, add_user
from orderops.workflow.worker import run_once
from orderops.workflow.writeback_worker import run_writeback_once

TENANT = "shop"
PIECE = 16
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


_harness = threading.local()


class HarnessTransport(httpx.HTTPTransport):
    """The test's own HTTP client. What it logs while it calls the desk (httpcore logs the
    answer's headers at DEBUG, the session cookie too) is the harness's, not the desk's:
    the desk answers on its own threads, whose records are all kept."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _harness.calling = True
        try:
            return super().handle_request(request)
        finally:
            _harness.calling = False


class Captured(logging.Handler):
    """Every record, formatted with its traceback, as a handler would write it out: as
    plain text, and as the JSON line `serve` and `worker` write (telemetry/logs.py), whose
    extra fields (request ids, tenants, routes) the plain format leaves out."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.json = json_formatter(json_lines=True)
        self.lines: list[str] = []
        self.json_lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not getattr(_harness, "calling", False):
            self.lines.append(self.format(record))
            self.json_lines.append(self.json.format(record))


def client_of(desk: Desk) -> httpx.Client:
    return httpx.Client(base_url=desk.base_url, timeout=60, transport=HarnessTransport())


@contextmanager
def every_logger_at_debug() -> Iterator[Captured]:
    """Root and every named logger at DEBUG (SQLAlchemy sets its own to WARN on import),
    all propagating to one capturing handler, in place of root's others (pytest's would
    keep a second copy of every record); restored afterwards."""
    import sqlalchemy  # noqa: F401  (its loggers exist before they are lowered)
    import uvicorn  # noqa: F401

    handler = Captured()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    saved_root, saved_handlers = root.level, root.handlers[:]
    root.handlers = [handler]
    root.setLevel(logging.DEBUG)
    for name in saved:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@dataclass
class Evidence:
    """Where a secret could leak, and the secrets in play."""

    secrets: dict[str, str] = field(default_factory=dict)
    error_bodies: list[str] = field(default_factory=list)

    def keep(self, name: str, secret: str, shown: int = 0) -> str:
        """Note a secret; its first ``shown`` characters are meant to be seen (a prefix)."""
        self.secrets[name] = secret[shown:]
        return secret

    def answer(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
            self.error_bodies.append(f"{response.status_code}\n{headers}\n{response.text}")
        return response


def pieces(secret: str) -> list[str]:
    if len(secret) <= PIECE:
        return [secret]
    return [secret] + [secret[i : i + PIECE] for i in range(0, len(secret) - PIECE + 1, 4)]


def leaks(evidence: Evidence, corpus: dict[str, str]) -> list[str]:
    """Each secret found, where, and the 120 characters before it (so the line says who)."""
    found = []
    for name, secret in evidence.secrets.items():
        for where, text in corpus.items():
            at = min((i for p in pieces(secret) if (i := text.find(p)) >= 0), default=-1)
            if at >= 0:
                found.append(f"{name} in {where}, after {text[max(0, at - 120) : at]!r}")
    return found


def sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    page = client.get("/console/login")
    csrf = _CSRF.search(page.text)
    assert csrf is not None, page.text
    form = {
        "csrf": csrf.group(1),
        "tenant": TENANT,
        "email": email,
        "password": password,
        "next": "/console/queues",
    }
    return client.post("/console/login", data=form)


def console_user(desk: Desk, evidence: Evidence, name: str) -> tuple[str, str]:
    email = f"{name}@shop.example"
    user = add_user(
        desk.app.sessions,
        tenant_id=TENANT,
        display_name=name,
        role=Role.AGENT,
        email=email,
        kind=UserKind.HUMAN,
        clock=desk.clock,
        actor="test",
    )
    password = evidence.keep(f"console password of {name}", secrets.token_urlsafe(18))
    set_password(
        desk.app.sessions,
        tenant_id=TENANT,
        user_ref=user.id,
        password=password,
        clock=desk.clock,
        actor="test",
    )
    return email, password


def decide_address_correction(
    http: httpx.Client, evidence: Evidence, agent: Person, approvers: list[Person]
) -> dict[str, Any]:
    """Propose a customer contact on the first open case that can take one, and approve it."""
    cases = evidence.answer(http.get("/v1/cases?open=true&limit=100", headers=agent.headers))
    for case in cases.json()["items"]:
        proposed = http.post(
            f"/v1/cases/{case['id']}/actions",
            json={"kind": "request_address_correction", "params": {"problem": "no house number"}},
            headers=agent.headers,
        )
        if proposed.status_code != 201:
            continue
        action: dict[str, Any] = proposed.json()
        for who in approvers:
            if action["status"] != "awaiting_approval":
                break
            answer = http.post(f"/v1/actions/{action['id']}/approve", headers=who.headers)
            if answer.status_code == 200:
                action = answer.json()
        return action
    raise AssertionError("no open case took an address correction")


def test_a_simulated_day_leaves_no_secret_in_logs_metrics_or_error_bodies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    evidence = Evidence()
    zendesk = ZendeskSandbox(
        email="desk@shop.example",
        api_token=evidence.keep("zendesk api token", "zd_" + secrets.token_urlsafe(24)),
    )
    store = tmp_path / "store"
    write_store(store, seed=5, days=1, orders_per_day=8, history_days=1)
    history = read_history(store)
    metrics_token = evidence.keep("metrics token", secrets.token_urlsafe(24))
    settings = Settings(
        database_url=f"sqlite:///{(tmp_path / 'desk.db').as_posix()}",
        data_dir=tmp_path,
        secret_key=evidence.keep("app secret key", secrets.token_urlsafe(32)),
        metrics_token=metrics_token,
    )
    start = min(
        history.deliveries[0].deliver_at, history.window_start or history.deliveries[0].deliver_at
    )
    end = max(history.window_end or start, history.deliveries[-1].deliver_at)
    half = len(history.deliveries) // 2
    rotated_at = history.deliveries[half].deliver_at
    switch = next(  # Stripe switches 12 hours after the rotation; the overlap lasts 24
        i
        for i, d in enumerate(history.deliveries)
        if d.deliver_at >= rotated_at + timedelta(hours=12)
    )

    with (
        every_logger_at_debug() as logs,
        run_sandbox(zendesk.app) as zendesk_url,
    ):
        monkeypatch.setenv("ORDEROPS_WRITEBACK_TENANT", TENANT)
        monkeypatch.setenv("ORDEROPS_WRITEBACK_ZENDESK_URL", zendesk_url)
        monkeypatch.setenv("ORDEROPS_WRITEBACK_ZENDESK_EMAIL", zendesk.email)
        monkeypatch.setenv("ORDEROPS_WRITEBACK_ZENDESK_API_TOKEN", zendesk.api_token)
        with (
            booted_desk(settings, tenant_id=TENANT, start=start, policy=history.policy) as desk,
            client_of(desk) as http,
            client_of(desk) as stranger,
        ):
            app: App = desk.app
            for provider, secret in desk.signing_secrets.items():
                evidence.keep(f"{provider} signing secret", secret)

            # The day, with Stripe's signing secret rotated halfway: Stripe goes on signing
            # with the old one for a while (the overlap accepts it), then switches.
            parts = [
                history.deliveries[:half],
                history.deliveries[half:switch],
                history.deliveries[switch:],
            ]
            refused = 0
            for number, part in enumerate(parts):
                if number == 1:
                    rotated = rotate_secret(
                        app.sessions,
                        tenant_id=TENANT,
                        source=WebhookSource.STRIPE,
                        box=SecretBox(settings.secret_key),
                        clock=desk.clock,
                        actor="test",
                        overlap=timedelta(hours=24),
                    )
                    assert rotated.generated_secret is not None
                    evidence.keep("rotated stripe signing secret", rotated.generated_secret)
                if number == 2:
                    desk.signing_secrets["stripe"] = rotated.generated_secret
                until = parts[number + 1][0].deliver_at if number < 2 else end
                replay = replay_deliveries(desk, part, end=until, client=http)
                refused += replay.refusals.total
            assert refused == 0

            # People at work: keys (whose prefixes are meant to be seen), a console session.
            agent = person(app, desk.clock, tenant=TENANT, role=Role.AGENT, name="alice")
            approvers = [
                person(app, desk.clock, tenant=TENANT, role=role, name=f"{role}-person")
                for role in (Role.APPROVER, Role.FINANCE_APPROVER, Role.ADMIN)
            ]
            service = person(app, desk.clock, tenant=TENANT, role=Role.SERVICE, name="feeder")
            for who in (agent, service, *approvers):
                evidence.keep(f"API key of {who.principal.name}", who.secret, shown=PIECE)
            # A late order from the store's other feed: a case a person can act on.
            placed = desk.clock.now() - timedelta(days=10)
            late = [
                order_placed("o-late", at=placed, promised_by=placed + timedelta(days=3)),
                payment("o-late", status="captured", at=placed, payment_ref="pi_late"),
            ]
            fed = http.post("/v1/events", json=late, headers=service.headers)
            assert fed.status_code == 202, fed.text
            run_once(app)
            action = decide_address_correction(http, evidence, agent, approvers)
            assert action["status"] == "approved", action
            desk.clock.advance(timedelta(minutes=5))
            run_writeback_once(app, worker_id="w-1")
            assert [e.action for e in zendesk.control.ledger.entries()] == ["ticket.created"]

            email, password = console_user(desk, evidence, "carol")
            signed = sign_in(http, email, password)
            assert signed.status_code == 303, signed.text
            session = http.cookies.get("oo_session")
            assert session
            evidence.keep("console session token", session)
            assert http.get("/console/queues").status_code == 200

            # What must be refused, each answered with an error body.
            short = key_for(
                app,
                tenant_id=TENANT,
                name="short-lived",
                role=Role.VIEWER,
                clock=desk.clock,
                expires_at=desk.clock.now() + timedelta(hours=1),
            )
            evidence.keep("expiring API key", short.secret, shown=PIECE)
            retired = rotate_key(
                app.sessions,
                tenant_id=TENANT,
                key_id=approvers[0].principal.key_id or "",
                clock=desk.clock,
                actor="test",
                overlap=timedelta(0),
            )
            evidence.keep("successor API key", retired.successor.secret, shown=PIECE)
            desk.clock.advance(timedelta(hours=2))
            bad_key = "oo_live_abcd1234_" + secrets.token_urlsafe(32)
            evidence.keep("unknown API key", bad_key, shown=PIECE)
            forged_secret = evidence.keep("forger's secret", secrets.token_urlsafe(32))
            delivery = history.deliveries[-1]
            refusals = {
                "unknown key": http.get(
                    "/v1/cases", headers={"Authorization": f"Bearer {bad_key}"}
                ),
                "expired key": http.get(
                    "/v1/cases", headers={"Authorization": f"Bearer {short.secret}"}
                ),
                "retired key": http.get("/v1/cases", headers=approvers[0].headers),
                "forged signature": http.post(
                    desk.urls[delivery.provider],
                    content=delivery.payload(),
                    headers={
                        "content-type": "application/json",
                        **delivery.headers,
                        **sign(
                            delivery.provider, delivery.payload(), forged_secret, desk.clock.now()
                        ),
                    },
                ),
                "malformed event": http.post(
                    "/v1/events",
                    content=b'{"id": "e-1", "type": ',
                    headers={**service.headers, "content-type": "application/json"},
                ),
                "malformed webhook": http.post(
                    desk.urls["stripe"],
                    content=b"{not json",
                    headers={
                        "content-type": "application/json",
                        **sign(
                            "stripe", b"{not json", desk.signing_secrets["stripe"], desk.clock.now()
                        ),
                    },
                ),
                "wrong password": sign_in(stranger, email, password + "x"),
                "metrics without its token": http.get("/metrics"),
            }
            for response in refusals.values():
                evidence.answer(response)
            metrics = http.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})

    assert {name: r.status_code for name, r in refusals.items()} == {
        "unknown key": 401,
        "expired key": 401,
        "retired key": 401,
        "forged signature": 401,
        "malformed event": 400,
        "malformed webhook": 422,
        "wrong password": 401,
        "metrics without its token": 401,
    }
    assert metrics.status_code == 200
    corpus = {
        "logs": "\n".join(logs.lines),
        "JSON logs": "\n".join(logs.json_lines),
        "metrics": metrics.text,
        "error bodies": "\n\n".join(evidence.error_bodies),
    }
    # The search covers what it claims to: statements with their parameters, the refusals
    # naming keys by their prefixes, the counters of refused deliveries.
    assert len(logs.lines) > 10_000
    assert "INSERT INTO api_keys" in corpus["logs"]
    assert '"logger": "orderops.requests"' in corpus["JSON logs"]  # one line per request
    assert '"tenant": "shop"' in corpus["JSON logs"]
    assert "verified with the previous signing secret" in corpus["logs"]
    assert f"key {short.prefix}... expired at" in corpus["error bodies"]
    assert 'reason="bad_signature"' in corpus["metrics"]
    assert len(evidence.secrets) >= 15
    assert leaks(evidence, corpus) == []
