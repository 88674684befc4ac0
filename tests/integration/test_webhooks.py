"""POST /v1/webhooks/{source}/{token}: each provider's scheme, stored first, never twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.database_roles import owner_sessions
from builders.events import order_placed
from builders.policies import DECLINES_AT_ONCE, store_detectors
from builders.webhooks import (
    SIGNERS,
    TIMESTAMPED,
    Delivery,
    aftership_tracking,
    easypost_tracker,
    encode,
    metrics_of,
    post,
    shippo_track,
    shopify,
    shopify_order,
    stripe_event,
    webhook_client,
    zendesk_ticket,
)
from builders.worker import work
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.statuses import TicketStatus, TrackingStatus
from orderops.ingest.adapters import aftership, easypost, shippo
from orderops.ingest.connections import (
    SecretBox,
    WebhookSource,
    connect_source,
    disconnect_source,
    rotate_secret,
)
from orderops.ingest.webhook_metrics import RejectReason
from orderops.storage.tables import (
    Case,
    DeadLetter,
    InboxEvent,
    Order,
    Payment,
    Shipment,
    SupportTicket,
)
from orderops.storage.tables.sources import WebhookDelivery
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep

PROBLEM_JSON = "application/problem+json"
SECRETS = {
    "acme": "acme-signing-secret-1-0123456789abcdef",
    "globex": "globex-signing-secret-1-0123456789abcdef",
}
ROTATED = "the-rotated-secret-0123456789abcdef"


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with webhook_client(app) as test_client:
        yield test_client


def connect(app: App, source: str, tenant: str = "acme", secret: str | None = None) -> str:
    change = connect_source(
        app.sessions,
        tenant_id=tenant,
        source=WebhookSource(source),
        box=SecretBox(app.settings.secret_key),
        clock=app.clock,
        actor="test",
        secret=secret or SECRETS[tenant],
    )
    return change.connection.endpoint_token


def count(app: App, table: Any, tenant: str = "acme") -> int:
    with owner_sessions(app)() as session:
        total = session.scalar(
            select(func.count()).select_from(table).where(table.tenant_id == tenant)
        )
        return int(total or 0)


def rows(app: App, table: Any, tenant: str = "acme") -> list[Any]:
    with owner_sessions(app)() as session:
        found = list(session.scalars(select(table).where(table.tenant_id == tenant)))
        session.expunge_all()
        return found


def nothing_stored(app: App, tenant: str = "acme") -> bool:
    return all(
        count(app, table, tenant) == 0 for table in (WebhookDelivery, InboxEvent, DeadLetter)
    )


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["detail"]
    return body


# --- one real delivery per provider reaches the projected state -------------------------------


def test_a_shopify_order_webhook_creates_the_order(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app, "shopify")
    order = shopify_order()

    response = post(
        client,
        shopify("orders/create", order, webhook_id="wh-order-1"),
        token=token,
        secret=SECRETS["acme"],
        now=clock.now(),
    )

    assert response.status_code == 202
    assert response.json()["outcome"] == "accepted"
    assert response.json()["delivery_id"] == "wh-order-1"
    assert rows(app, Order) == []  # stored only: the worker makes the order
    work(app)
    (stored,) = rows(app, Order)
    assert stored.order_ref == str(order["id"])
    assert stored.number == order["name"]
    assert stored.total_minor == int(Decimal(order["total_price"]) * 100)
    assert stored.source == "shopify"
    (delivery,) = rows(app, WebhookDelivery)
    assert delivery.status == "accepted"
    assert delivery.headers["x-shopify-topic"] == "orders/create"
    assert "x-shopify-hmac-sha256" not in delivery.headers


def test_a_stripe_payment_failure_for_a_known_order_opens_a_payment_failed_case(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    store_detectors(app, clock, DECLINES_AT_ONCE)
    token = connect(app, "stripe")
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[order_placed("o-77", at=clock.now() - timedelta(hours=2), total_minor=2000)],
        channel="test",
        clock=clock,
    )
    failure = stripe_event(
        "payment_intent.payment_failed", created=clock.now() - timedelta(hours=1), order_ref="o-77"
    )

    response = post(client, failure, token=token, secret=SECRETS["acme"], now=clock.now())

    assert response.status_code == 202
    changes = work(app)
    assert [(c.change, c.exception_type, c.order_ref) for c in changes] == [
        ("opened", "payment_failed", "o-77")
    ]
    (payment,) = rows(app, Payment)
    intent = json.loads(failure.body)["data"]["object"]
    assert (payment.provider, payment.payment_ref, payment.status) == (
        "stripe",
        intent["id"],
        "failed",
    )
    assert payment.failure_code == intent["last_payment_error"]["code"]
    assert [c.exception_type for c in rows(app, Case)] == ["payment_failed"]


@pytest.mark.parametrize(
    ("build", "expected_status"),
    [
        (lambda: easypost_tracker()[0], easypost.STATUSES["in_transit"]),
        (lambda: shippo_track()[0], shippo.STATUSES["DELIVERED"]),
        (lambda: aftership_tracking()[0], aftership.TAGS["Delivered"]),
    ],
    ids=["easypost", "shippo", "aftership"],
)
def test_a_carrier_tracking_webhook_updates_the_shipment(
    client: TestClient, app: App, clock: FixedClock, build: Any, expected_status: TrackingStatus
) -> None:
    delivery: Delivery = build()
    token = connect(app, delivery.source)
    payload = json.loads(delivery.body)
    tracked = payload.get("result") or payload.get("data") or payload["msg"]
    number = tracked.get("tracking_code") or tracked["tracking_number"]

    response = post(client, delivery, token=token, secret=SECRETS["acme"], now=clock.now())

    assert response.status_code == 202
    assert response.json()["accepted"] == 1
    work(app)
    (shipment,) = rows(app, Shipment)
    assert shipment.tracking_number == number
    assert shipment.status == expected_status


def test_a_zendesk_ticket_webhook_records_the_ticket(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    delivery, ticket = zendesk_ticket(invocation_id="inv-9")
    token = connect(app, "zendesk")

    response = post(client, delivery, token=token, secret=SECRETS["acme"], now=clock.now())

    assert response.status_code == 202
    assert response.json()["delivery_id"] == "inv-9"
    work(app)
    (stored,) = rows(app, SupportTicket)
    assert stored.ticket_ref == str(ticket["id"])
    assert stored.status == TicketStatus.PENDING
    assert stored.subject == ticket["subject"]


# --- forged, stale and misaddressed traffic is refused and never stored ---------------------


def _any_delivery(source: str, clock: FixedClock) -> Delivery:
    builders = {
        "shopify": lambda: shopify("orders/create", shopify_order()),
        "stripe": lambda: stripe_event("payment_intent.succeeded", created=clock.now()),
        "easypost": lambda: easypost_tracker()[0],
        "shippo": lambda: shippo_track()[0],
        "aftership": lambda: aftership_tracking()[0],
        "zendesk": lambda: zendesk_ticket()[0],
    }
    delivery: Delivery = builders[source]()
    return delivery


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_a_wrong_signature_is_401_counted_and_not_stored(
    client: TestClient, app: App, clock: FixedClock, source: str
) -> None:
    token = connect(app, source)
    metrics = metrics_of(client)
    before = metrics.rejected_count(source=source, reason=RejectReason.BAD_SIGNATURE)

    response = post(
        client, _any_delivery(source, clock), token=token, secret="not-the-secret", now=clock.now()
    )

    assert_problem(response, 401)
    assert metrics.rejected_count(source=source, reason=RejectReason.BAD_SIGNATURE) == before + 1
    assert nothing_stored(app)


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_an_unsigned_delivery_is_401_and_counted_as_missing(
    client: TestClient, app: App, clock: FixedClock, source: str
) -> None:
    token = connect(app, source)
    delivery = _any_delivery(source, clock)

    response = client.post(
        f"/v1/webhooks/{source}/{token}", content=delivery.body, headers=delivery.headers
    )

    assert_problem(response, 401)
    reason = RejectReason.MISSING_SIGNATURE
    assert metrics_of(client).rejected_count(source=source, reason=reason) == 1
    assert nothing_stored(app)


@pytest.mark.parametrize("source", TIMESTAMPED)
@pytest.mark.parametrize(
    "age", [timedelta(minutes=6), -timedelta(minutes=6)], ids=["old", "future"]
)
def test_a_correctly_signed_but_stale_delivery_is_401(
    client: TestClient, app: App, clock: FixedClock, source: str, age: timedelta
) -> None:
    token = connect(app, source)

    response = post(
        client,
        _any_delivery(source, clock),
        token=token,
        secret=SECRETS["acme"],
        now=clock.now() - age,
    )

    assert_problem(response, 401)
    reason = RejectReason.STALE_TIMESTAMP
    assert metrics_of(client).rejected_count(source=source, reason=reason) == 1
    assert nothing_stored(app)


def test_a_stripe_signature_within_the_window_is_accepted(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app, "stripe")
    delivery = stripe_event("payment_intent.succeeded", created=clock.now())

    response = post(
        client,
        delivery,
        token=token,
        secret=SECRETS["acme"],
        now=clock.now() - timedelta(minutes=4),
    )

    assert response.status_code == 202


@pytest.mark.parametrize(
    ("path_source", "token_of"),
    [("stripe", "nobody"), ("shopify", "acme-stripe"), ("paypal", "acme-stripe")],
    ids=["unknown token", "token of another source", "unknown source"],
)
def test_a_misaddressed_delivery_is_404_and_not_stored(
    client: TestClient, app: App, clock: FixedClock, path_source: str, token_of: str
) -> None:
    token = connect(app, "stripe") if token_of == "acme-stripe" else "no-such-token"
    delivery = stripe_event("payment_intent.succeeded", created=clock.now())

    response = post(
        client, delivery, token=token, secret=SECRETS["acme"], now=clock.now(), source=path_source
    )

    assert_problem(response, 404)
    assert nothing_stored(app)


def test_a_disconnected_source_answers_404(client: TestClient, app: App, clock: FixedClock) -> None:
    token = connect(app, "stripe")
    delivery = stripe_event("payment_intent.succeeded", created=clock.now())
    disconnect_source(
        app.sessions, tenant_id="acme", source=WebhookSource.STRIPE, clock=clock, actor="test"
    )

    response = post(client, delivery, token=token, secret=SECRETS["acme"], now=clock.now())

    assert_problem(response, 404)
    assert nothing_stored(app)


def test_after_rotation_old_signatures_are_refused_and_new_ones_accepted(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app, "stripe")
    rotate_secret(
        app.sessions,
        tenant_id="acme",
        source=WebhookSource.STRIPE,
        box=SecretBox(app.settings.secret_key),
        clock=clock,
        actor="test",
        secret=ROTATED,
    )
    delivery = stripe_event("payment_intent.succeeded", created=clock.now())

    old = post(client, delivery, token=token, secret=SECRETS["acme"], now=clock.now())
    new = post(client, delivery, token=token, secret=ROTATED, now=clock.now())

    assert_problem(old, 401)
    assert new.status_code == 202
    assert count(app, WebhookDelivery) == 1


# --- tenants --------------------------------------------------------------------------------


def test_a_token_of_acme_never_writes_into_globex(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    acme_token = connect(app, "stripe", "acme")
    connect(app, "stripe", "globex")
    delivery = stripe_event("payment_intent.payment_failed", created=clock.now(), order_ref="o-1")

    signed_by_globex = post(
        client, delivery, token=acme_token, secret=SECRETS["globex"], now=clock.now()
    )
    signed_by_acme = post(
        client, delivery, token=acme_token, secret=SECRETS["acme"], now=clock.now()
    )

    assert_problem(signed_by_globex, 401)
    assert signed_by_acme.status_code == 202
    work(app)
    assert nothing_stored(app, "globex")
    assert count(app, Payment, "globex") == 0
    assert count(app, WebhookDelivery, "acme") == 1
    assert count(app, InboxEvent, "acme") == 1


def _declined_order(client: TestClient, app: App, clock: FixedClock, order_ref: str) -> str:
    """An order placed 20 minutes ago whose card was declined 5 minutes later, delivered
    by Stripe's webhook now: no case yet (the grace window is still open). Its token."""
    token = connect(app, "stripe")
    placed = order_placed(order_ref, at=clock.now() - timedelta(minutes=20), total_minor=2000)
    ingest_items(app.sessions, tenant_id="acme", items=[placed], channel="test", clock=clock)
    declined = stripe_event(
        "payment_intent.payment_failed",
        created=clock.now() - timedelta(minutes=15),
        order_ref=order_ref,
        intent_id=f"pi_{order_ref}",
    )
    first = post(client, declined, token=token, secret=SECRETS["acme"], now=clock.now())
    assert first.status_code == 202
    assert work(app) == []
    return token


def test_a_decline_the_customer_fixes_within_the_grace_window_never_opens_a_case(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = _declined_order(client, app, clock, "o-88")
    clock.advance(timedelta(minutes=10))
    paid = stripe_event(
        "payment_intent.succeeded", created=clock.now(), order_ref="o-88", intent_id="pi_o-88"
    )
    post(client, paid, token=token, secret=SECRETS["acme"], now=clock.now())
    work(app)
    clock.advance(timedelta(hours=1))
    sweep(app.sessions, tenant_id="acme", clock=clock)

    assert rows(app, Case) == []
    (payment,) = rows(app, Payment)
    assert payment.status == "captured"


def test_a_decline_still_unpaid_after_the_grace_window_opens_from_the_sweep(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    _declined_order(client, app, clock, "o-89")
    clock.advance(timedelta(minutes=10))
    assert sweep(app.sessions, tenant_id="acme", clock=clock) == []

    clock.advance(timedelta(minutes=10))
    changes = sweep(app.sessions, tenant_id="acme", clock=clock)

    assert [(c.change, c.exception_type) for c in changes] == [("opened", "payment_failed")]


# --- redelivery ------------------------------------------------------------------------------


def test_a_redelivery_is_200_duplicate_with_no_second_effect(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    store_detectors(app, clock, DECLINES_AT_ONCE)
    token = connect(app, "stripe")
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[order_placed("o-5", at=clock.now() - timedelta(hours=2))],
        channel="test",
        clock=clock,
    )
    failure = stripe_event(
        "payment_intent.payment_failed", created=clock.now() - timedelta(hours=1), order_ref="o-5"
    )
    first = post(client, failure, token=token, secret=SECRETS["acme"], now=clock.now())
    work(app)
    inbox_before, (case_before,) = count(app, InboxEvent), rows(app, Case)
    clock.advance(timedelta(minutes=2))

    again = post(client, failure, token=token, secret=SECRETS["acme"], now=clock.now())

    assert first.json()["outcome"] == "accepted"
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert again.json()["delivery"] == first.json()["delivery"]
    assert work(app) == []
    assert count(app, InboxEvent) == inbox_before
    assert count(app, WebhookDelivery) == 1
    (case_after,) = rows(app, Case)
    assert case_after.occurrences == case_before.occurrences == 1


def test_a_known_topic_without_facts_is_stored_and_ignored(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app, "shopify")

    response = post(
        client,
        shopify("orders/delete", {"id": shopify_order()["id"]}),
        token=token,
        secret=SECRETS["acme"],
        now=clock.now(),
    )

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    assert [d.status for d in rows(app, WebhookDelivery)] == ["ignored"]
    assert count(app, InboxEvent) == 0


# --- payloads that cannot be mapped ----------------------------------------------------------


def test_truncated_json_is_422_and_dead_lettered_with_the_exact_body(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app, "stripe")
    cut = stripe_event("payment_intent.succeeded", created=clock.now()).truncated()

    response = post(client, cut, token=token, secret=SECRETS["acme"], now=clock.now())
    retry = post(client, cut, token=token, secret=SECRETS["acme"], now=clock.now())

    body = assert_problem(response, 422)
    (letter,) = rows(app, DeadLetter)
    assert letter.body == cut.body.decode()
    assert letter.body_bytes == len(cut.body)
    assert letter.reason_code == "invalid_payload"
    assert letter.channel == "webhook:stripe"
    assert body["dead_letter_id"] == letter.id
    (delivery,) = rows(app, WebhookDelivery)
    assert (delivery.status, delivery.dead_letter_id) == ("rejected", letter.id)
    assert delivery.body == cut.body.decode()
    assert assert_problem(retry, 422)["dead_letter_id"] == letter.id
    assert count(app, DeadLetter) == 1
    assert count(app, InboxEvent) == 0


@pytest.mark.parametrize(
    "build",
    [
        lambda now: shopify("carts/create", {"id": 1}),
        lambda now: Delivery(
            "stripe",
            encode(
                {
                    "id": "evt_x",
                    "type": "customer.created",
                    "created": 1,
                    "data": {"object": {"id": "cus_1"}},
                }
            ),
        ),
    ],
    ids=["shopify carts/create", "stripe customer.created"],
)
def test_an_unknown_topic_is_422_and_dead_lettered(
    client: TestClient, app: App, clock: FixedClock, build: Any
) -> None:
    delivery: Delivery = build(clock.now())
    token = connect(app, delivery.source)

    response = post(client, delivery, token=token, secret=SECRETS["acme"], now=clock.now())

    body = assert_problem(response, 422)
    (letter,) = rows(app, DeadLetter)
    assert letter.reason_code == "unsupported_event"
    assert letter.body == delivery.body.decode()
    assert body["dead_letter_id"] == letter.id
    assert count(app, InboxEvent) == 0


def test_an_oversized_signed_body_is_413_and_dead_lettered(app: App, clock: FixedClock) -> None:
    app.settings.max_request_bytes = 2048
    token = connect(app, "stripe")
    event = json.loads(stripe_event("payment_intent.succeeded", created=clock.now()).body)
    event["data"]["object"]["description"] = "x" * 4000
    delivery = Delivery("stripe", encode(event))

    with webhook_client(app) as client:
        response = post(client, delivery, token=token, secret=SECRETS["acme"], now=clock.now())
        retry = post(client, delivery, token=token, secret=SECRETS["acme"], now=clock.now())

    body = assert_problem(response, 413)
    (letter,) = rows(app, DeadLetter)
    assert letter.reason_code == "payload_too_large"
    assert letter.body_bytes == len(delivery.body) > 2048
    assert letter.body == delivery.body.decode()
    assert body["dead_letter_id"] == letter.id
    assert assert_problem(retry, 413)["dead_letter_id"] == letter.id
    assert count(app, DeadLetter) == 1
    assert count(app, InboxEvent) == 0


def test_an_oversized_forged_body_is_401_and_not_stored(app: App, clock: FixedClock) -> None:
    app.settings.max_request_bytes = 2048
    token = connect(app, "stripe")
    delivery = Delivery("stripe", b'{"id":"evt_1","pad":"' + b"x" * 4000 + b'"}')

    with webhook_client(app) as client:
        response = post(client, delivery, token=token, secret="forged-secret", now=clock.now())

    assert_problem(response, 401)
    assert nothing_stored(app)


def test_a_body_past_the_read_limit_is_413_unverified_and_not_stored(
    client: TestClient, app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("orderops.api.webhooks.READ_LIMIT", 1024)
    token = connect(app, "stripe")
    delivery = Delivery("stripe", b'{"pad":"' + b"x" * 3000 + b'"}')

    response = post(client, delivery, token=token, secret=SECRETS["acme"], now=clock.now())

    assert_problem(response, 413)
    reason = RejectReason.TOO_LARGE_UNVERIFIED
    assert metrics_of(client).rejected_count(source="stripe", reason=reason) == 1
    assert nothing_stored(app)
