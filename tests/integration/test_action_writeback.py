"""Every action kind reaches a real system: proposed and approved through the API, written by
the outbox worker to the vendor sandboxes over HTTP, each effect exactly once in the right
ledger, and the case resolved. When a vendor moved after the decision, the precheck stops
the write and the case fails back to review.

Each order is a Shopify order (its id is the order reference) paid through Stripe (or held
by Shopify), shipped from a warehouse the WMS knows, bought by a customer the CRM knows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person, person
from builders.events import envelope
from builders.writeback import Sandboxes, drain, fast_runtime, served_sandboxes
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders
from orderops.writeback.registry import Connectors

TOTAL = 4_000
SKU, OTHER_SKU = "SKU-1", "SKU-2"
WAREHOUSE = "WH-EAST"
VENDORS = ("stripe", "shopify", "easypost", "wms", "crm", "zendesk")
SHIP_TO = {
    "name": "Ada Buyer",
    "line1": "12 Main St",
    "city": "Springfield",
    "region": "IL",
    "postal_code": "62701",
    "country": "US",
}
_events = itertools.count(1)


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


@dataclass
class Shop:
    """One order as every vendor knows it, and the case opened on it."""

    order_id: int
    intent: str
    email: str
    case_id: str = ""
    ticket_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Story:
    kind: str
    params: Callable[[Shop], dict[str, Any]]
    ledgers: dict[tuple[str, str], int]
    """(system, ledger action) -> how many entries the effects leave."""
    payment: str = "captured"
    provider: str = "stripe"
    ticket: bool = False
    prepare: Callable[[Sandboxes, Connectors, Shop], None] | None = None


def reserve_original(sandboxes: Sandboxes, connectors: Connectors, shop: Shop) -> None:
    connectors.wms().reserve(
        order_id=str(shop.order_id), sku=SKU, quantity=2, idempotency_key=f"orig-{shop.order_id}"
    )


def hold_by_hand(sandboxes: Sandboxes, connectors: Connectors, shop: Shop) -> None:
    (fulfillment_order,) = connectors.shopify().list_fulfillment_orders(shop.order_id)
    connectors.shopify().hold_fulfillment(
        fulfillment_order_id=fulfillment_order.id, idempotency_key="by-hand", notes="check"
    )


STORIES = [
    Story("refund", lambda s: {"reason": "parcel lost"}, {("stripe", "refund.created"): 1}),
    Story(
        "refund",
        lambda s: {"reason": "parcel lost", "amount_minor": 1500},
        {("shopify", "refund.created"): 1},
        provider="shopify",
    ),
    Story(
        "store_credit",
        lambda s: {"amount_minor": 500, "reason": "sorry for the wait"},
        {("crm", "store_credit.issued"): 1},
    ),
    Story(
        "reship",
        lambda s: {"lines": [{"sku": SKU, "quantity": 1}], "reason": "arrived broken"},
        {
            ("wms", "reservation.created"): 1,
            ("easypost", "shipment.created"): 1,
            ("easypost", "shipment.bought"): 1,
            ("shopify", "order.updated"): 1,  # the saga's note with the tracking code
        },
    ),
    Story(
        "substitute",
        lambda s: {"from_sku": SKU, "to_sku": OTHER_SKU, "quantity": 1},
        {("wms", "substitution.created"): 1, ("shopify", "order.updated"): 1},
    ),
    Story(
        "shipping_upgrade",
        lambda s: {"to_service": "Priority", "cost_minor": 300},
        {("easypost", "shipment.created"): 1, ("easypost", "shipment.bought"): 1},
    ),
    Story(
        "cancel_line",
        lambda s: {"sku": SKU, "quantity": 1, "reason": "customer changed mind"},
        {
            ("shopify", "refund.created"): 1,
            ("stripe", "refund.created"): 1,
            ("wms", "reservation.released"): 1,
        },
        prepare=reserve_original,
    ),
    Story(
        "cancel_order",
        lambda s: {"reason": "customer"},
        {
            ("stripe", "refund.created"): 1,
            ("shopify", "order.cancelled"): 1,
            ("wms", "reservation.released"): 1,
        },
        prepare=reserve_original,
    ),
    Story(
        "capture_payment",
        lambda s: {},
        {("stripe", "payment_intent.captured"): 1},
        payment="authorized",
    ),
    Story(
        "release_payment_hold",
        lambda s: {"reason": "order will not ship"},
        {("stripe", "payment_intent.canceled"): 1},
        payment="authorized",
    ),
    Story(
        "void_payment",
        lambda s: {"reason": "fraudulent"},
        {("stripe", "payment_intent.canceled"): 1},
        payment="authorized",
    ),
    Story(
        "hold_fulfillment",
        lambda s: {"reason": "address_check"},
        {("shopify", "fulfillment_order.held"): 1},
    ),
    Story(
        "release_fulfillment",
        lambda s: {"note": "address confirmed"},
        {("shopify", "fulfillment_order.released"): 1},
        prepare=hold_by_hand,
    ),
    Story(
        "request_address_correction",
        lambda s: {"problem": "the street number is missing"},
        {("zendesk", "ticket.created"): 1},
    ),
    Story(
        "contact_customer",
        lambda s: {"subject": "Your parcel", "body": "It is on its way again."},
        {("zendesk", "ticket.updated"): 1},
        ticket=True,
    ),
    Story(
        "support_handoff",
        lambda s: {"team": "ops", "priority": "high", "summary": "carrier keeps losing it"},
        {("zendesk", "ticket.created"): 1},
    ),
    Story(
        "override",
        lambda s: {
            "resolution": "goodwill",
            "justification": "long-standing customer, agreed with the store manager",
        },
        {("shopify", "order.updated"): 1},
    ),
]


def ledger_counts(sandboxes: Sandboxes) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for system in VENDORS:
        for entry in getattr(sandboxes, system).control.ledger.entries():
            counts[(system, entry.action)] = counts.get((system, entry.action), 0) + 1
    return counts


def open_order(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    connectors: Connectors,
    story: Story,
) -> Shop:
    """The order in every vendor, projected from its events, with a late case open on it."""
    order_id, _ = sandboxes.shopify.add_order(total_price="40.00", skus=(SKU, SKU))
    held = story.payment == "authorized"
    intent = sandboxes.stripe.add_payment_intent(
        amount=TOTAL, status="requires_capture" if held else "succeeded"
    )
    email = f"buyer-{order_id}@example.com"
    sandboxes.crm.add_customer(email=email, name="Ada Buyer")
    for sku in (SKU, OTHER_SKU):
        sandboxes.wms.set_stock(sku, 10)
    sandboxes.wms.set_location(
        WAREHOUSE,
        {"name": "Shop", "street1": "1 Dock Rd", "city": "Newark", "zip": "07102", "country": "US"},
    )
    shop = Shop(order_id=order_id, intent=intent, email=email)
    if story.prepare is not None:
        story.prepare(sandboxes, connectors, shop)
    ref = str(order_id)
    placed = clock.now() - timedelta(days=10)
    items: list[dict[str, Any]] = [
        envelope(
            "order.placed",
            {
                "order_ref": ref,
                "currency": "USD",
                "total_minor": TOTAL,
                "placed_at": placed.isoformat(),
                "promised_by": (placed + timedelta(days=3)).isoformat(),
                "location": WAREHOUSE,
                "ship_to": SHIP_TO,
                "customer": {"customer_ref": f"cust-{ref}", "email": email},
                "lines": [{"sku": SKU, "quantity": 2, "unit_price_minor": TOTAL // 2}],
            },
            at=placed,
            subject=ref,
        ),
        envelope(
            "payment.updated",
            {
                "payment_ref": intent if story.provider == "stripe" else f"shopify-order-{ref}",
                "order_ref": ref,
                "provider": story.provider,
                "status": story.payment,
                "amount_minor": TOTAL,
                "currency": "USD",
            },
            at=placed + timedelta(hours=1),
            subject=ref,
            source=f"test://{story.provider}",
        ),
    ]
    if story.ticket:
        ticket = connectors.zendesk().create_ticket(
            subject="Where is my parcel?",
            body="It has not arrived.",
            requester_email=email,
            idempotency_key=f"customer-{ref}",
        )
        shop.ticket_id = ticket.id
        items.append(
            envelope(
                "ticket.updated",
                {
                    "ticket_ref": str(ticket.id),
                    "source": "zendesk",
                    "order_ref": ref,
                    "customer_email": email,
                    "subject": "Where is my parcel?",
                    "status": "open",
                },
                at=placed + timedelta(days=5),
                subject=ref,
                source="test://zendesk",
            )
        )
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    assert report.rejected == []
    (opened,) = [
        c.case_id
        for c in sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)
        if c.order_ref == ref and c.exception_type == "shipment_late"
    ]
    shop.case_id = opened
    return shop


def decide(
    http: TestClient,
    proposer: Person,
    deciders: list[Person],
    shop: Shop,
    kind: str,
    params: dict[str, Any],
) -> dict[str, Any]:
    """Propose, then let each decider approve in turn until the policy is satisfied."""
    proposed = http.post(
        f"/v1/cases/{shop.case_id}/actions",
        json={"kind": kind, "params": params},
        headers=proposer.headers,
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
        rows = list(
            uow.session.scalars(select(OutboxMessage).where(OutboxMessage.action_id == action_id))
        )
        uow.session.expunge_all()
        return rows


@pytest.fixture
def people(app: App, clock: FixedClock) -> tuple[Person, list[Person]]:
    agent = person(app, clock, tenant="acme", role=Role.AGENT, name="alice-agent")
    deciders = [
        person(app, clock, tenant="acme", role=role, name=f"{role}-decider")
        for role in (Role.APPROVER, Role.FINANCE_APPROVER, Role.FRAUD_ANALYST, Role.ADMIN)
    ]
    return agent, deciders


@pytest.mark.parametrize("story", STORIES, ids=[f"{s.kind}-{s.provider}" for s in STORIES])
def test_every_action_kind_writes_its_effects_once_and_resolves_the_case(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
    story: Story,
) -> None:
    runtime = fast_runtime(sandboxes.settings(), clock)
    connectors = runtime.connectors.for_tenant("acme")
    shop = open_order(app, clock, sandboxes, connectors, story)
    before = ledger_counts(sandboxes)
    agent, deciders = people

    action = decide(http, agent, deciders, shop, story.kind, story.params(shop))
    clock.advance(timedelta(minutes=5))
    drain(app, runtime, clock)

    messages = outbox_of(app, action["id"])
    assert {m.status for m in messages} == {"delivered"}
    assert {m.system for m in messages} <= set(VENDORS)
    after = ledger_counts(sandboxes)
    made = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert made == story.ledgers
    done = http.get(f"/v1/actions/{action['id']}", headers=agent.headers).json()
    assert done["status"] == "executed"
    case = http.get(f"/v1/cases/{shop.case_id}", headers=agent.headers).json()
    assert case["status"] == "resolved"

    drain(app, runtime, clock)
    assert ledger_counts(sandboxes) == after


def by_hand_capture(sandboxes: Sandboxes, connectors: Connectors, shop: Shop) -> None:
    connectors.stripe().capture(payment_intent=shop.intent, idempotency_key="dashboard")


def by_hand_refund(sandboxes: Sandboxes, connectors: Connectors, shop: Shop) -> None:
    connectors.shopify().refund(
        order_id=shop.order_id, amount=Decimal("5.00"), idempotency_key="dashboard"
    )


DRIFTS = [
    (
        Story("capture_payment", lambda s: {}, {}, payment="authorized"),
        by_hand_capture,
        ("stripe", "capture"),
        "payment_status: expected requires_capture, found succeeded",
        ("stripe", "payment_intent.captured"),
    ),
    (
        Story("cancel_order", lambda s: {"reason": "customer", "refund": False}, {}),
        by_hand_refund,
        ("shopify", "cancel_order"),
        "financial_status: expected paid, found partially_refunded",
        ("shopify", "order.cancelled"),
    ),
]


@pytest.mark.parametrize(
    ("story", "drift", "operation", "difference", "never"),
    DRIFTS,
    ids=[d[0].kind for d in DRIFTS],
)
def test_a_vendor_changed_after_the_decision_stops_the_write_and_fails_the_case(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
    story: Story,
    drift: Callable[[Sandboxes, Connectors, Shop], None],
    operation: tuple[str, str],
    difference: str,
    never: tuple[str, str],
) -> None:
    runtime = fast_runtime(sandboxes.settings(), clock)
    connectors = runtime.connectors.for_tenant("acme")
    shop = open_order(app, clock, sandboxes, connectors, story)
    agent, deciders = people
    action = decide(http, agent, deciders, shop, story.kind, story.params(shop))

    drift(sandboxes, connectors, shop)
    before = ledger_counts(sandboxes)
    drain(app, runtime, clock)

    stopped = [m for m in outbox_of(app, action["id"]) if (m.system, m.operation) == operation]
    assert [m.status for m in stopped] == ["conflict"]
    assert ledger_counts(sandboxes).get(never, 0) == before.get(never, 0)
    done = http.get(f"/v1/actions/{action['id']}", headers=agent.headers).json()
    assert done["status"] == "failed"
    case = http.get(f"/v1/cases/{shop.case_id}", headers=agent.headers).json()
    assert case["status"] == "failed"
    assert difference in case["timeline"][-1]["data"]["reason"]


@pytest.mark.parametrize(
    ("story", "missing"),
    [
        (Story("refund", lambda s: {"reason": "lost"}, {}, provider="adyen"), "adyen"),
        (
            Story("capture_payment", lambda s: {}, {}, payment="authorized", provider="shopify"),
            "holds at shopify",
        ),
    ],
    ids=["refund-at-adyen", "capture-at-shopify"],
)
def test_an_effect_no_vendor_can_perform_refuses_the_approval(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
    story: Story,
    missing: str,
) -> None:
    runtime = fast_runtime(sandboxes.settings(), clock)
    shop = open_order(app, clock, sandboxes, runtime.connectors.for_tenant("acme"), story)
    agent, deciders = people
    proposed = http.post(
        f"/v1/cases/{shop.case_id}/actions",
        json={"kind": story.kind, "params": story.params(shop)},
        headers=agent.headers,
    )
    answers = [proposed]
    for who in deciders if proposed.status_code == 201 else []:
        answers.append(
            http.post(f"/v1/actions/{proposed.json()['id']}/approve", headers=who.headers)
        )
        if answers[-1].status_code == 422:
            break
    refused = answers[-1]
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("unmappable-effect")
    assert missing in refused.json()["detail"]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        queued = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.case_id == shop.case_id)
        ).all()
    assert queued == []
