"""Resolve on the event path: Stripe records that name no order reach it through their keys.

Real providers name an order their own way: a PaymentIntent is created at checkout and
names the checkout token; a dispute names only its charge; Shopify's refund is a refund.
These tests feed canonical events shaped as the adapters emit them and read back what
resolve stored: the record on its order, the link with the key that matched, the wait.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from builders.events import envelope
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import accept_items
from orderops.storage.tables import (
    AliasWait,
    CaseTimelineEntry,
    DeadLetter,
    FraudSignal,
    InboxEvent,
    OrderRefund,
    Payment,
    RecordLink,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import process_pending

DAY = timedelta(days=1)
ORDER = "5001001001001"


def order(
    at: Any,
    *,
    ref: str = ORDER,
    number: str = "#1001",
    token: str = "tok_1",
    names: tuple[tuple[str, str], ...] = (),
) -> dict[str, Any]:
    data = {
        "order_ref": ref,
        "number": number,
        "currency": "USD",
        "total_minor": 5000,
        "placed_at": at.isoformat(),
        "promised_by": (at + 5 * DAY).isoformat(),
        "customer": {"customer_ref": "c-1", "email": "Ann@Example.com"},
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 5000}],
        "aliases": [
            {"kind": "order.name", "value": number},
            {"kind": "shopify.checkout_token", "value": token},
            *({"kind": kind, "value": value} for kind, value in names),
        ],
    }
    return envelope("order.placed", data, at=at, source="shopify", subject=ref)


def payment(
    at: Any,
    *,
    status: str = "captured",
    pi: str = "pi_1",
    keys: list[tuple[str, str]] | None = None,
    charges: tuple[str, ...] = (),
) -> dict[str, Any]:
    data = {
        "payment_ref": pi,
        "provider": "stripe",
        "status": status,
        "amount_minor": 5000,
        "currency": "USD",
        "order_keys": [{"kind": k, "value": v} for k, v in (keys or [])],
        "aliases": [{"kind": "stripe.charge", "value": ch} for ch in charges],
    }
    return envelope("payment.updated", data, at=at, source="stripe")


def fraud(
    at: Any, *, kind: str = "dispute", ref: str = "dp_1", charge: str = "ch_1"
) -> dict[str, Any]:
    data = {
        "kind": kind,
        "signal_ref": ref,
        "detail": "fraudulent",
        "order_keys": [{"kind": "stripe.charge", "value": charge}],
    }
    return envelope("fraud.signal", data, at=at, source="stripe")


def charge_of(at: Any, *, pi: str = "pi_1", charge: str = "ch_1") -> dict[str, Any]:
    data = {
        "entity": {"kind": "stripe.payment_intent", "value": pi},
        "aliases": [{"kind": "stripe.charge", "value": charge}],
    }
    return envelope("alias.observed", data, at=at, source="stripe")


def ingest(app: App, clock: FixedClock, *items: dict[str, Any], tenant: str = "acme") -> None:
    report = ingest_items(
        app.sessions, tenant_id=tenant, items=list(items), channel="test", clock=clock
    )
    assert report.rejected == [], [r.reason for r in report.rejected]


def inbox(app: App, item: dict[str, Any], tenant: str = "acme") -> tuple[str, int, list[str]]:
    """The row's status, attempts, and the aliases it waits for."""
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        row = uow.inbox.find(item["source"], item["id"])
        assert row is not None
        waits = uow.session.scalars(
            select(AliasWait.alias).where(AliasWait.inbox_id == row.id).order_by(AliasWait.alias)
        )
        return row.status, row.attempts, list(waits)


def links(
    app: App, tenant: str = "acme"
) -> list[tuple[str, str, str, str, str | None, str | None]]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = uow.session.scalars(
            select(RecordLink)
            .where(RecordLink.tenant_id == tenant, RecordLink.revoked_at.is_(None))
            .order_by(RecordLink.record_type, RecordLink.record_ref)
        )
        return [
            (r.record_type, r.record_ref, r.order_ref, r.method, r.key_kind, r.key) for r in rows
        ]


def evidence(app: App, record_ref: str) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        link = uow.session.scalar(select(RecordLink).where(RecordLink.record_ref == record_ref))
        assert link is not None
        return link.evidence


@pytest.mark.parametrize("charge_known_first", [True, False], ids=["alias-first", "dispute-first"])
def test_a_dispute_naming_only_a_charge_reaches_its_order_once_the_charge_is_known(
    app: App, clock: FixedClock, charge_known_first: bool
) -> None:
    at = clock.now() - DAY
    ingest(
        app, clock, order(at), payment(at + timedelta(minutes=1), keys=[("shopify.order", ORDER)])
    )
    alias, dispute = charge_of(at + timedelta(hours=1)), fraud(at + timedelta(hours=2))
    first, second = (alias, dispute) if charge_known_first else (dispute, alias)

    ingest(app, clock, first)
    if not charge_known_first:
        assert inbox(app, dispute) == ("deferred", 0, ["stripe.charge:ch_1"])
    ingest(app, clock, second)

    assert inbox(app, dispute) == ("processed", 1, [])
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        signals = uow.session.scalars(select(FraudSignal)).all()
        assert [(s.kind, s.order_ref) for s in signals] == [("dispute", ORDER)]
    assert ("fraud_signal", "stripe:dp_1", ORDER, "alias", "stripe.charge", "ch_1") in links(app)
    assert evidence(app, "stripe:dp_1") == "linked by stripe.charge ch_1 -> payment pi_1"


def test_a_payment_naming_only_its_checkout_waits_for_its_order(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - DAY
    early = payment(at, status="authorized", keys=[("shopify.checkout_token", "tok_1")])

    ingest(app, clock, early)

    assert inbox(app, early) == (
        "deferred",
        0,
        ["payment.ref:pi_1", "shopify.checkout_token:tok_1"],
    )
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.commerce.payment("stripe", "pi_1") is None

    ingest(app, clock, order(at + timedelta(seconds=5)))

    assert inbox(app, early) == ("processed", 1, [])
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        stored = uow.commerce.payment("stripe", "pi_1")
        placed = uow.commerce.order_by_ref(ORDER)
        assert stored is not None
        assert placed is not None
        assert stored.order_ref == ORDER
        assert placed.financial_status == "authorized"
    assert links(app) == [
        ("payment", "stripe:pi_1", ORDER, "alias", "shopify.checkout_token", "tok_1")
    ]


def test_one_worker_pass_links_a_record_that_arrived_before_its_order(
    app: App, clock: FixedClock
) -> None:
    """The payment waits; the order is only stored; the worker's single drain does both."""
    at = clock.now() - DAY
    early = payment(at, keys=[("shopify.checkout_token", "tok_1")], charges=("ch_1",))
    dispute = fraud(at + timedelta(hours=3))
    ingest(app, clock, early, dispute)
    assert inbox(app, dispute) == ("deferred", 0, ["stripe.charge:ch_1"])
    accept_items(app.sessions, tenant_id="acme", items=[order(at)], channel="test", clock=clock)

    process_pending(app.sessions, tenant_id="acme", clock=clock)

    assert inbox(app, early)[0] == "processed"
    assert inbox(app, dispute)[0] == "processed"
    assert [r[:3] for r in links(app)] == [
        ("fraud_signal", "stripe:dp_1", ORDER),
        ("payment", "stripe:pi_1", ORDER),
    ]


def test_a_record_never_linked_stays_deferred_and_is_never_dead_lettered(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - DAY
    orphan = payment(at, keys=[("shopify.checkout_token", "tok_never")])
    ingest(app, clock, orphan)

    for _ in range(4):
        clock.advance(timedelta(minutes=5))
        process_pending(app.sessions, tenant_id="acme", clock=clock)
    ingest(app, clock, order(at, token="tok_other"))

    assert inbox(app, orphan) == (
        "deferred",
        0,
        ["payment.ref:pi_1", "shopify.checkout_token:tok_never"],
    )
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.session.scalars(select(DeadLetter)).all() == []


def test_a_refund_is_stored_as_a_refund_not_as_a_second_payment(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - DAY
    refund = envelope(
        "order.refund",
        {
            "refund_ref": "r_1",
            "order_keys": [{"kind": "shopify.order", "value": ORDER}],
            "amount_minor": 1500,
            "currency": "USD",
            "reason": "damaged",
        },
        at=at + timedelta(hours=5),
        source="shopify",
    )

    ingest(app, clock, order(at), payment(at, keys=[("shopify.order", ORDER)]), refund)
    ingest(app, clock, refund)  # redelivered

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        payments = uow.session.scalars(select(Payment)).all()
        refunds = uow.session.scalars(select(OrderRefund)).all()
        assert [(p.payment_ref, p.amount_refunded_minor) for p in payments] == [("pi_1", 0)]
        assert [(r.refund_ref, r.order_ref, r.amount_minor, r.reason) for r in refunds] == [
            ("r_1", ORDER, 1500, "damaged")
        ]
        refunded = uow.commerce.order_by_ref(ORDER)
        assert refunded is not None
        assert (refunded.total_minor, refunded.financial_status) == (5000, "partially_refunded")
    assert ("refund", "shopify:r_1", ORDER, "alias", "shopify.order", ORDER) in links(app)


def test_a_transaction_listed_among_an_order_names_leads_to_that_order(
    app: App, clock: FixedClock
) -> None:
    """Shopify lists an order's transactions with it; a record quoting one finds the order."""
    at = clock.now() - DAY
    refund = envelope(
        "order.refund",
        {
            "refund_ref": "r_2",
            "order_keys": [{"kind": "shopify.transaction", "value": "77001"}],
            "amount_minor": 500,
            "currency": "USD",
        },
        at=at + timedelta(hours=1),
        source="shopify",
    )

    ingest(app, clock, order(at, names=(("shopify.transaction", "77001"),)), refund)

    assert links(app) == [("refund", "shopify:r_2", ORDER, "alias", "shopify.transaction", "77001")]
    assert evidence(app, "shopify:r_2") == "linked by shopify.transaction 77001"


def test_the_case_timeline_says_which_key_linked_the_event(app: App, clock: FixedClock) -> None:
    at = clock.now() - DAY
    ingest(
        app,
        clock,
        order(at),
        payment(at, keys=[("shopify.order", ORDER)], charges=("ch_1",)),
        fraud(at + timedelta(hours=1)),
    )

    ingest(app, clock, fraud(at + timedelta(hours=2), kind="early_fraud_warning", ref="issfr_1"))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        entries = uow.session.scalars(
            select(CaseTimelineEntry).where(CaseTimelineEntry.kind == "event")
        ).all()
        linked = [e.data["link"] for e in entries if "link" in e.data]
    assert [(d["method"], d["key_kind"], d["key"], d["evidence"]) for d in linked] == [
        ("alias", "stripe.charge", "ch_1", "linked by stripe.charge ch_1 -> payment pi_1")
    ]


def test_redelivered_and_out_of_order_events_give_the_same_links(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - DAY

    def story() -> list[dict[str, Any]]:
        return [
            payment(at, status="authorized", keys=[("shopify.checkout_token", "tok_1")]),
            order(at + timedelta(seconds=5)),
            charge_of(at + timedelta(minutes=1)),
            payment(at + timedelta(minutes=2), keys=[("shopify.checkout_token", "tok_1")]),
            fraud(at + timedelta(hours=1)),
        ]

    ingest(app, clock, *story())
    backwards = list(reversed(story()))
    for item in backwards:
        ingest(app, clock, item, tenant="globex")
    for item in backwards:
        ingest(app, clock, item, tenant="globex")  # every one delivered twice

    assert links(app, "globex") == links(app, "acme")
    assert len(links(app, "acme")) == 2
    for tenant in ("acme", "globex"):
        with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
            pending = uow.session.scalars(
                select(InboxEvent.status).where(InboxEvent.tenant_id == tenant)
            ).all()
            assert set(pending) == {"processed"}
            signals = uow.session.scalars(
                select(FraudSignal.order_ref).where(FraudSignal.tenant_id == tenant)
            ).all()
            assert signals == [ORDER]


def test_a_key_of_a_kind_resolve_does_not_know_is_refused_with_its_name(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - DAY
    bad = payment(at, keys=[("stripe.nonsense", "x_1")])
    ingest(app, clock, bad)
    for _ in range(2):
        process_pending(app.sessions, tenant_id="acme", clock=clock)

    assert inbox(app, bad)[:2] == ("failed", 3)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (letter,) = uow.session.scalars(select(DeadLetter)).all()
        assert letter.reason_code == "invalid_event"
        assert "unknown key kind 'stripe.nonsense'" in letter.reason


@pytest.mark.parametrize(
    ("data", "type_", "reason"),
    [
        (
            {"refund_ref": "r_9", "amount_minor": 100, "currency": "USD"},
            "order.refund",
            "refund stripe:r_9 names no order",
        ),
        (
            {
                "entity": {"kind": "stripe.payment_intent", "value": "pi_1"},
                "aliases": [{"kind": "stripe.chrage", "value": "ch_9"}],
            },
            "alias.observed",
            "unknown key kind 'stripe.chrage'",
        ),
    ],
    ids=["refund-without-order", "alias-of-an-unknown-kind"],
)
def test_a_record_resolve_cannot_use_is_dead_lettered_with_the_reason(
    app: App, clock: FixedClock, data: dict[str, Any], type_: str, reason: str
) -> None:
    at = clock.now() - DAY
    ingest(app, clock, order(at), payment(at, keys=[("shopify.order", ORDER)]))
    bad = envelope(type_, data, at=at + timedelta(hours=1), source="stripe")

    ingest(app, clock, bad)
    for _ in range(2):
        process_pending(app.sessions, tenant_id="acme", clock=clock)

    assert inbox(app, bad)[:2] == ("failed", 3)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (letter,) = uow.session.scalars(select(DeadLetter)).all()
        assert letter.reason_code == "invalid_event"
        assert reason in letter.reason
        assert uow.session.scalars(select(OrderRefund)).all() == []
