"""What a chunk keeps of its rows never outlives the truth.

A chunk loads its events' rows ahead and answers later reads from them; an event's
writes are what the next event reads, a failed event's writes are forgotten with its
savepoint (rows, answers and audit records alike), and a chunk that could not load
ahead reads one event at a time to the same result.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from builders.events import envelope, order_placed, payment
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import accept_items
from orderops.resolve.aliases import AliasStore
from orderops.sim import SimConfig, simulate
from orderops.storage.repositories.cases import CaseFilter
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import AuditRecord, InboxEvent, Order, Payment
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow import pipeline
from orderops.workflow.pipeline import process_pending


def _fail_settling(monkeypatch: pytest.MonkeyPatch, event_id: str) -> None:
    """The event ``event_id`` fails after it was projected and its link written."""
    real = pipeline.settle

    def settle(uow: Any, resolution: Any, **kw: Any) -> Any:
        written = real(uow, resolution, **kw)
        if resolution.event.envelope.id == event_id:
            raise RuntimeError("bug after the projection")
        return written

    monkeypatch.setattr(pipeline, "settle", settle)


def _rows(app: App) -> dict[str, tuple[str, int]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return {r.event_id: (r.status, r.attempts) for r in uow.session.scalars(select(InboxEvent))}


def test_a_failed_events_writes_are_not_read_by_the_next_event_of_its_chunk(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = clock.now() - timedelta(days=1)
    events = [
        order_placed("o-1", at=t),
        payment("o-1", status="authorized", at=t + timedelta(minutes=1), event_id="poison"),
        payment("o-1", status="captured", at=t + timedelta(minutes=2), event_id="capture"),
    ]
    _fail_settling(monkeypatch, "poison")
    accept_items(app.sessions, tenant_id="acme", items=events, channel="test", clock=clock)

    process_pending(app.sessions, tenant_id="acme", clock=clock)

    rows = _rows(app)
    assert rows["poison"] == ("pending", 1)
    assert rows["capture"] == ("processed", 1)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (stored,) = uow.session.scalars(select(Payment)).all()
        order = uow.commerce.order_by_ref("o-1")
        assert order is not None
        assert stored.status == "captured"
        assert stored.created_at == t + timedelta(minutes=2), "created by the capture"
        assert stored.authorized_at is None, "the failed authorization left nothing behind"
        assert order.financial_status == "paid"


def test_a_name_a_failed_event_registered_is_stored_by_the_next_event_that_gives_it(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = clock.now() - timedelta(days=1)

    def with_checkout(at: Any, event_id: str) -> dict[str, Any]:
        update = order_placed("o-1", at=at, event_id=event_id)
        update["type"] = "order.updated"
        update["data"]["aliases"] = [{"kind": "shopify.checkout_token", "value": "tok-1"}]
        return update

    events = [
        order_placed("o-1", at=t),
        with_checkout(t + timedelta(minutes=1), "poison"),
        with_checkout(t + timedelta(minutes=2), "again"),
    ]
    _fail_settling(monkeypatch, "poison")
    accept_items(app.sessions, tenant_id="acme", items=events, channel="test", clock=clock)

    process_pending(app.sessions, tenant_id="acme", clock=clock)

    assert _rows(app)["again"] == ("processed", 1)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        store = AliasStore(ResolveRepository(uow.session, "acme"))
        assert store.lookup("shopify.checkout_token", "tok-1") == [("order", "o-1")]


def test_a_failed_events_audit_records_go_with_it_and_the_chain_verifies(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = clock.now() - timedelta(days=1)

    def keyed_payment(payment_ref: str, at: Any, event_id: str) -> dict[str, Any]:
        data = {
            "payment_ref": payment_ref,
            "provider": "stripe",
            "status": "captured",
            "amount_minor": 5000,
            "currency": "USD",
            "order_keys": [{"kind": "order.ref", "value": "o-1"}],
        }
        return envelope("payment.updated", data, at=at, source="test://stripe", event_id=event_id)

    events = [
        order_placed("o-1", at=t),
        keyed_payment("pi_poison", t + timedelta(minutes=1), "poison"),
        keyed_payment("pi_good", t + timedelta(minutes=2), "good"),
    ]
    _fail_settling(monkeypatch, "poison")
    accept_items(app.sessions, tenant_id="acme", items=events, channel="test", clock=clock)

    process_pending(app.sessions, tenant_id="acme", clock=clock)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        linked = [
            r.data["record_ref"]
            for r in uow.session.scalars(
                select(AuditRecord).where(AuditRecord.action == "record.linked")
            )
        ]
    assert linked == ["stripe:pi_good"]
    assert verify_tenant(app.sessions, tenant_id="acme").ok


CONFIG = SimConfig(
    seed=5,
    days=1.0,
    history_days=2,
    orders_per_day=6,
    tenant="acme",
    rates={t.value: 0.15 for t in ExceptionType},
    payment_failed_rate=0.2,
    late_rate=0.2,
)


def _state(app: App, tenant: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """The tenant's cases and the state of its orders."""
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        cases = uow.cases.search(CaseFilter(), limit=10_000, offset=0).items
        orders = uow.session.scalars(select(Order).where(Order.tenant_id == tenant))
        return (
            sorted((c.order_ref, c.exception_type, c.status) for c in cases),
            sorted(
                (o.order_ref, o.financial_status, o.fulfillment_status, str(o.next_check_at))
                for o in orders
            ),
        )


def test_a_chunk_that_cannot_load_ahead_reads_event_by_event_to_the_same_state(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(CONFIG.end)
    ensure_tenant(app.sessions, tenant_id="initech", name="Initech", clock=clock)
    events = simulate(CONFIG).events
    for tenant in ("acme", "initech"):
        accept_items(app.sessions, tenant_id=tenant, items=events, channel="test", clock=clock)
    process_pending(app.sessions, tenant_id="acme", clock=clock)

    def broken(*_: Any) -> None:
        raise RuntimeError("loading ahead failed")

    monkeypatch.setattr(pipeline, "prefetch", broken)
    process_pending(app.sessions, tenant_id="initech", clock=clock)

    reference = _state(app, "acme")
    assert reference[0], "the history opens cases"
    assert _state(app, "initech") == reference
