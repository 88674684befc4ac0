"""Money moves for a cancellation only when Shopify itself says the order is cancelled.

A cancellation can reach the projection without being true at Shopify: a body signed
with a leaked secret, or a cancellation the store later disputes. The projection stays
fast and unconfirmed; what is confirmed is the money: an approved refund of a cancelled
order carries the cancellation as a fact the decision relied on, and its precheck reads
the order back from Shopify over HTTP before any refund is written. A cancellation
Shopify does not show stops the refund (conflict) and sends the case back to a person.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person, client, person
from builders.events import envelope
from builders.webhooks import post, shopify, shopify_order, webhook_client
from builders.worker import work
from builders.writeback import Sandboxes, drain, fast_runtime, served_sandboxes
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.tables import OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep

TOTAL = 4_000
SECRET = "shpss_" + "0123456789abcdef0123456789abcdef"
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


@pytest.fixture
def people(app: App, clock: FixedClock) -> tuple[Person, list[Person]]:
    agent = person(app, clock, tenant="acme", role=Role.AGENT, name="alice-agent")
    deciders = [
        person(app, clock, tenant="acme", role=role, name=f"{role}-decider")
        for role in (Role.APPROVER, Role.FINANCE_APPROVER, Role.ADMIN)
    ]
    return agent, deciders


def paid_order(app: App, clock: FixedClock, sandboxes: Sandboxes, provider: str) -> str:
    """A paid Shopify order, projected from its events; its money at Stripe or Shopify."""
    order_id, _ = sandboxes.shopify.add_order(total_price="40.00")
    intent = sandboxes.stripe.add_payment_intent(amount=TOTAL)
    ref = str(order_id)
    placed = clock.now() - timedelta(days=3)
    items: list[dict[str, Any]] = [
        envelope(
            "order.placed",
            {
                "order_ref": ref,
                "currency": "USD",
                "total_minor": TOTAL,
                "placed_at": placed.isoformat(),
                "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": TOTAL}],
            },
            at=placed,
            subject=ref,
            source="shopify",
        ),
        envelope(
            "payment.updated",
            {
                "payment_ref": intent if provider == "stripe" else f"shopify-order-{ref}",
                "order_ref": ref,
                "provider": provider,
                "status": "captured",
                "amount_minor": TOTAL,
                "currency": "USD",
            },
            at=placed + timedelta(minutes=5),
            subject=ref,
            source=provider,
        ),
    ]
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    assert report.rejected == []
    return ref


def cancellation_webhook(app: App, clock: FixedClock, ref: str) -> None:
    """A signed orders/cancelled delivery for the order, dated an hour ago."""
    token = connect_source(
        app.sessions,
        tenant_id="acme",
        source=WebhookSource.SHOPIFY,
        box=SecretBox(app.settings.secret_key),
        clock=clock,
        actor="test",
        secret=SECRET,
    ).connection.endpoint_token
    at = (clock.now() - timedelta(hours=1)).isoformat()
    body = shopify_order(id=int(ref), cancelled_at=at, updated_at=at, cancel_reason="customer")
    delivery = shopify("orders/cancelled", body, webhook_id=f"wh-cancel-{next(_ids)}")
    with webhook_client(app) as hooks:
        response = post(hooks, delivery, token=token, secret=SECRET, now=clock.now())
    assert response.status_code == 202, response.text
    work(app)


def refund_case(app: App, clock: FixedClock, ref: str) -> str:
    clock.advance(timedelta(hours=49))
    opened = [
        c.case_id
        for c in sweep(app.sessions, tenant_id="acme", clock=clock)
        if c.order_ref == ref and c.exception_type == "refund_pending"
    ]
    assert len(opened) == 1, opened
    return opened[0]


def approve_refund(
    http: TestClient, people: tuple[Person, list[Person]], case_id: str
) -> dict[str, Any]:
    agent, deciders = people
    proposed = http.post(
        f"/v1/cases/{case_id}/actions",
        json={"kind": "refund", "params": {"reason": "order cancelled"}},
        headers=agent.headers,
    )
    assert proposed.status_code == 201, proposed.text
    action: dict[str, Any] = proposed.json()
    for who in deciders:
        if action["status"] != "awaiting_approval":
            break
        answer = http.post(f"/v1/actions/{action['id']}/approve", headers=who.headers)
        if answer.status_code == 200:
            action = answer.json()
    assert action["status"] == "approved", action
    return action


def outbox_of(app: App, action_id: str) -> list[OutboxMessage]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        found = list(
            uow.session.scalars(select(OutboxMessage).where(OutboxMessage.action_id == action_id))
        )
        uow.session.expunge_all()
        return found


def refunds_made(sandboxes: Sandboxes, system: str) -> int:
    ledger = getattr(sandboxes, system).control.ledger
    return sum(e.action == "refund.created" for e in ledger.entries())


@pytest.mark.parametrize("provider", ["stripe", "shopify"])
def test_a_cancellation_shopify_does_not_show_never_leads_to_a_refund(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    people: tuple[Person, list[Person]],
    provider: str,
) -> None:
    runtime = fast_runtime(sandboxes.settings(), clock)
    ref = paid_order(app, clock, sandboxes, provider)
    cancellation_webhook(app, clock, ref)
    case_id = refund_case(app, clock, ref)

    with client(app) as http:
        action = approve_refund(http, people, case_id)
        drain(app, runtime, clock)
        case = http.get(f"/v1/cases/{case_id}", headers=people[0].headers).json()

    assert sandboxes.shopify.order(int(ref))["cancelled_at"] is None
    assert [(m.system, m.operation, m.status) for m in outbox_of(app, action["id"])] == [
        (provider, "refund", "conflict")
    ]
    assert refunds_made(sandboxes, provider) == 0
    assert case["status"] == "failed"
    assert "cancelled: expected True, found False" in case["timeline"][-1]["data"]["reason"]


@pytest.mark.parametrize("provider", ["stripe", "shopify"])
def test_a_cancellation_shopify_confirms_is_refunded_once(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    people: tuple[Person, list[Person]],
    provider: str,
) -> None:
    runtime = fast_runtime(sandboxes.settings(), clock)
    ref = paid_order(app, clock, sandboxes, provider)
    runtime.connectors.for_tenant("acme").shopify().cancel_order(
        order_id=int(ref), idempotency_key="cancelled-in-shopify-admin", reason="customer"
    )
    cancellation_webhook(app, clock, ref)
    case_id = refund_case(app, clock, ref)

    with client(app) as http:
        action = approve_refund(http, people, case_id)
        drain(app, runtime, clock)
        case = http.get(f"/v1/cases/{case_id}", headers=people[0].headers).json()

    assert [(m.system, m.status) for m in outbox_of(app, action["id"])] == [(provider, "delivered")]
    assert refunds_made(sandboxes, provider) == 1
    assert case["status"] == "resolved"
