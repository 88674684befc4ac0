"""Forged, stale, replayed and misdirected webhooks, for every source the desk accepts.

Each source is connected for acme live, acme's test environment and globex, each with a
secret of its own. Every attack below is one delivery an attacker (or a confused sender)
could make; every one is refused with problem+json, stores nothing anywhere (no raw
delivery, no inbox row, no dead letter), and is counted on the refusal metric under the
reason it was refused for. A genuine delivery after them is accepted once, so the
refusals are not an endpoint that refuses everything.

Proven elsewhere and not repeated here (tests/integration/test_webhooks.py):
a wrong signature and a missing one for every source
(``test_a_wrong_signature_is_401_counted_and_not_stored``,
``test_an_unsigned_delivery_is_401_and_counted_as_missing``); a stale and a future
timestamp for every timestamped source (``test_a_correctly_signed_but_stale_delivery_is_401``);
an unknown token, another source's token, an unknown source
(``test_a_misaddressed_delivery_is_404_and_not_stored``); an oversized *signed* body
(413, dead-lettered: ``test_an_oversized_signed_body_is_413_and_dead_lettered``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.database_roles import owner_sessions
from builders.webhooks import (
    SIGNERS,
    TIMESTAMPED,
    Delivery,
    aftership_tracking,
    easypost_tracker,
    metrics_of,
    post,
    shippo_track,
    shopify,
    shopify_order,
    stripe_event,
    webhook_client,
    zendesk_ticket,
)
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.ingest.webhook_metrics import RejectReason
from orderops.storage.tables import DeadLetter, InboxEvent
from orderops.storage.tables.sources import WebhookDelivery
from orderops.tenancy.tenants import create_account

PROBLEM_JSON = "application/problem+json"
TENANTS = ("acme", "acme.test", "globex")
SECRETS = {
    "acme": "acme-live-signing-secret-0123456789abcdef",
    "acme.test": "acme-test-signing-secret-0123456789abcdef",
    "globex": "globex-signing-secret-0123456789abcdef",
}
STORED = (WebhookDelivery, InboxEvent, DeadLetter)


def test_every_source_the_desk_accepts_is_attacked_here() -> None:
    assert set(SIGNERS) == {source.value for source in WebhookSource}


def _delivery(source: str, clock: FixedClock) -> Delivery:
    builders: dict[str, Callable[[], Delivery]] = {
        "shopify": lambda: shopify("orders/create", shopify_order()),
        "stripe": lambda: stripe_event("payment_intent.succeeded", created=clock.now()),
        "easypost": lambda: easypost_tracker()[0],
        "shippo": lambda: shippo_track()[0],
        "aftership": lambda: aftership_tracking()[0],
        "zendesk": lambda: zendesk_ticket()[0],
    }
    return builders[source]()


def _altered(delivery: Delivery) -> bytes:
    """The same JSON with one value changed after signing (an amount, a status...)."""
    body = json.loads(delivery.body)
    body["attacker"] = "was here"
    return json.dumps(body, separators=(",", ":")).encode()


def _stored(app: App) -> dict[str, int]:
    with owner_sessions(app)() as session:
        return {
            f"{table.__tablename__}@{tenant}": int(
                session.scalar(
                    select(func.count()).select_from(table).where(table.tenant_id == tenant)
                )
                or 0
            )
            for table in STORED
            for tenant in TENANTS
        }


@pytest.fixture
def desk(app: App, clock: FixedClock) -> Iterator[tuple[App, TestClient]]:
    create_account(app.sessions, account_id="acme", name="Acme", clock=clock)
    with webhook_client(app) as client:
        yield app, client


def _connect(app: App, source: str) -> dict[str, str]:
    return {
        tenant: connect_source(
            app.sessions,
            tenant_id=tenant,
            source=WebhookSource(source),
            box=SecretBox(app.settings.secret_key),
            clock=app.clock,
            actor="test",
            secret=SECRETS[tenant],
        ).connection.endpoint_token
        for tenant in TENANTS
    }


Attack = Callable[[TestClient, Delivery, dict[str, str], FixedClock], Any]


def _raw(client: TestClient, source: str, token: str, body: bytes, headers: dict[str, str]) -> Any:
    return client.post(f"/v1/webhooks/{source}/{token}", content=body, headers=headers)


ATTACKS: dict[str, tuple[Attack, RejectReason]] = {
    "signed with another tenant's secret": (
        lambda c, d, t, clock: post(
            c, d, token=t["acme"], secret=SECRETS["globex"], now=clock.now()
        ),
        RejectReason.BAD_SIGNATURE,
    ),
    "signed with the test environment's secret": (
        lambda c, d, t, clock: post(
            c, d, token=t["acme"], secret=SECRETS["acme.test"], now=clock.now()
        ),
        RejectReason.BAD_SIGNATURE,
    ),
    "live signature sent to the test environment": (
        lambda c, d, t, clock: post(
            c, d, token=t["acme.test"], secret=SECRETS["acme"], now=clock.now()
        ),
        RejectReason.BAD_SIGNATURE,
    ),
    "body altered after signing": (
        lambda c, d, t, clock: _raw(
            c, d.source, t["acme"], _altered(d), d.signed(SECRETS["acme"], clock.now())
        ),
        RejectReason.BAD_SIGNATURE,
    ),
    "signature of an empty body": (
        lambda c, d, t, clock: _raw(
            c,
            d.source,
            t["acme"],
            d.body,
            Delivery(d.source, b"", d.headers).signed(SECRETS["acme"], clock.now()),
        ),
        RejectReason.BAD_SIGNATURE,
    ),
    "oversized forged body": (
        lambda c, d, t, clock: _raw(
            c,
            d.source,
            t["acme"],
            b'{"id":"x","pad":"' + b"x" * 40_000 + b'"}',
            d.signed("forged-secret-0123456789", clock.now()),
        ),
        RejectReason.BAD_SIGNATURE,
    ),
}


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_every_attack_is_refused_stores_nothing_and_is_counted(
    desk: tuple[App, TestClient], clock: FixedClock, source: str
) -> None:
    app, client = desk
    app.settings.max_request_bytes = 16_384
    tokens = _connect(app, source)
    metrics = metrics_of(client)
    delivery = _delivery(source, clock)
    before = _stored(app)
    counted_before = {r: metrics.rejected_count(source=source, reason=r) for r in RejectReason}

    answers = {
        label: attack(client, delivery, tokens, clock) for label, (attack, _) in ATTACKS.items()
    }

    assert {label: a.status_code for label, a in answers.items()} == {
        label: 401 for label in ATTACKS
    }
    for label, answer in answers.items():
        assert answer.headers["content-type"].startswith(PROBLEM_JSON), label
        problem = answer.json()
        assert (problem["status"], bool(problem["detail"])) == (401, True), label
        assert SECRETS["acme"] not in answer.text
    assert _stored(app) == before
    counted = {
        r: metrics.rejected_count(source=source, reason=r) - counted_before[r] for r in RejectReason
    }
    expected: dict[RejectReason, int] = dict.fromkeys(RejectReason, 0)
    for _, reason in ATTACKS.values():
        expected[reason] += 1
    assert counted == expected

    genuine = post(client, delivery, token=tokens["acme"], secret=SECRETS["acme"], now=clock.now())
    assert genuine.status_code == 202, genuine.text
    after = _stored(app)
    assert after[f"{InboxEvent.__tablename__}@acme"] > before[f"{InboxEvent.__tablename__}@acme"]
    assert {k: v for k, v in after.items() if not k.endswith("@acme")} == {
        k: v for k, v in before.items() if not k.endswith("@acme")
    }


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_a_replayed_delivery_adds_nothing(
    desk: tuple[App, TestClient], clock: FixedClock, source: str
) -> None:
    """A captured delivery sent again, signature and all: within a timestamped provider's
    window it is the same delivery (200 duplicate, nothing new); after the window, or
    for any provider once the delivery is known, it never becomes a second event."""
    app, client = desk
    tokens = _connect(app, source)
    delivery = _delivery(source, clock)
    headers = delivery.signed(SECRETS["acme"], clock.now())
    first = _raw(client, source, tokens["acme"], delivery.body, headers)
    assert first.status_code == 202, first.text
    once = _stored(app)
    stale_before = metrics_of(client).rejected_count(
        source=source, reason=RejectReason.STALE_TIMESTAMP
    )

    again = _raw(client, source, tokens["acme"], delivery.body, headers)
    clock.advance(timedelta(minutes=10))
    later = _raw(client, source, tokens["acme"], delivery.body, headers)
    elsewhere = _raw(client, source, tokens["acme.test"], delivery.body, headers)

    assert (again.status_code, again.json()["outcome"]) == (200, "duplicate")
    if source in TIMESTAMPED:
        assert later.status_code == 401
        assert later.headers["content-type"].startswith(PROBLEM_JSON)
        stale = metrics_of(client).rejected_count(
            source=source, reason=RejectReason.STALE_TIMESTAMP
        )
        assert stale == stale_before + 1
    else:
        assert (later.status_code, later.json()["outcome"]) == (200, "duplicate")
    assert elsewhere.status_code == 401
    assert _stored(app) == once
