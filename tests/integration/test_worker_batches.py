"""Workers process the inbox in chunks: failures isolated to their event, two workers never
processing one tenant's events at once, arrival order irrelevant."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from builders.database_roles import owner_sessions
from builders.events import order_placed, payment, scan, shipment
from builders.policies import DECLINES_AT_ONCE, store_detectors
from builders.worker import desk_state, work
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import accept_items
from orderops.sim import SimConfig, simulate
from orderops.storage.tables import InboxEvent
from orderops.workflow import pipeline
from orderops.workflow.pipeline import process_pending


def accept(app: App, clock: FixedClock, *items: dict[str, Any], tenant: str = "acme") -> None:
    accept_items(app.sessions, tenant_id=tenant, items=list(items), channel="test", clock=clock)


def inbox_rows(app: App, tenant: str = "acme") -> list[InboxEvent]:
    with owner_sessions(app)() as session:
        rows = list(session.scalars(select(InboxEvent).where(InboxEvent.tenant_id == tenant)))
        session.expunge_all()
        return rows


def order_story(order_ref: str, clock: FixedClock) -> list[dict[str, Any]]:
    at = clock.now() - timedelta(days=3)
    return [
        order_placed(order_ref, at=at),
        payment(
            order_ref,
            status="captured",
            at=at + timedelta(minutes=1),
            payment_ref=f"pi_{order_ref}",
        ),
        shipment(order_ref, at=at + timedelta(days=1), tracking=f"1Z{order_ref}"),
        scan(
            "in_transit",
            at=at + timedelta(days=1, hours=2),
            tracking=f"1Z{order_ref}",
            order_ref=order_ref,
        ),
        scan(
            "delivered", at=at + timedelta(days=2), tracking=f"1Z{order_ref}", order_ref=order_ref
        ),
    ]


def test_when_judging_fails_only_the_event_that_breaks_it_is_held_back(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_detectors(app, clock, DECLINES_AT_ONCE)
    at = clock.now() - timedelta(hours=2)
    accept(
        app,
        clock,
        order_placed("o-good", at=at),
        payment("o-good", status="failed", at=at + timedelta(minutes=1), payment_ref="pi_good"),
        order_placed("o-bad", at=at + timedelta(minutes=2)),
    )
    real = pipeline.evaluate_order

    def breaks_on_bad(uow: Any, order: Any, **kw: Any) -> Any:
        if order.order_ref == "o-bad":
            raise RuntimeError("a detector bug")
        return real(uow, order, **kw)

    monkeypatch.setattr(pipeline, "evaluate_order", breaks_on_bad)

    changes = process_pending(app.sessions, tenant_id="acme", clock=clock)

    assert [(c.change, c.order_ref) for c in changes] == [("opened", "o-good")]
    by_order = {row.envelope["data"]["order_ref"]: row for row in inbox_rows(app)}
    assert by_order["o-good"].status == "processed"
    held = [row for row in inbox_rows(app) if row.status != "processed"]
    assert [(r.envelope["data"]["order_ref"], r.status, r.attempts) for r in held] == [
        ("o-bad", "pending", 1)
    ]
    assert "a detector bug" in (held[0].error or "")


def test_events_arriving_out_of_order_across_chunks_end_as_in_order(
    app: App, clock: FixedClock
) -> None:
    story = [
        *order_story("o-1", clock),
        payment(
            "o-1", status="refunded", at=clock.now() - timedelta(hours=1), payment_ref="pi_o-1"
        ),
    ]
    for item in story:
        accept(app, clock, dict(item), tenant="globex")
    process_pending(app.sessions, tenant_id="globex", clock=clock)

    for newest_first in (story[::-1][:3], story[::-1][3:]):
        accept(app, clock, *(dict(item) for item in newest_first))
        process_pending(app.sessions, tenant_id="acme", clock=clock, batch=2)

    in_order, reversed_ = desk_state(app, "globex"), desk_state(app, "acme")
    assert reversed_["orders"] == in_order["orders"]
    assert reversed_["payments"] == in_order["payments"] == [("pi_o-1", "o-1", "refunded", 5000)]
    assert reversed_["shipments"] == in_order["shipments"] == [("1Zo-1", "o-1", "delivered")]


def test_two_workers_draining_one_tenant_process_every_event_exactly_once(
    app: App, clock: FixedClock
) -> None:
    config = SimConfig(seed=5, days=1, history_days=1, orders_per_day=15, payment_failed_rate=0.3)
    events = simulate(config).events
    clock.set(config.end)
    for tenant in ("acme", "globex"):
        store_detectors(app, clock, DECLINES_AT_ONCE, tenant=tenant)
        accept_items(app.sessions, tenant_id=tenant, items=events, channel="test", clock=clock)
    process_pending(app.sessions, tenant_id="globex", clock=clock, batch=10)
    errors: list[Exception] = []

    def worker() -> None:
        try:
            while any(r.status == "pending" for r in inbox_rows(app)):
                process_pending(
                    app.sessions, tenant_id="acme", clock=clock, batch=10, wait_for_lock=False
                )
        except Exception as exc:  # noqa: BLE001 - reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    assert {(row.status, row.attempts) for row in inbox_rows(app)} == {("processed", 1)}
    two, one = desk_state(app, "acme"), desk_state(app, "globex")
    assert one["cases"], "nothing opened; the comparison would prove little"
    assert two == one


def test_the_worker_drain_reaches_every_tenant_with_pending_events(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - timedelta(hours=1)
    accept(app, clock, order_placed("o-a", at=at), tenant="acme")
    accept(app, clock, order_placed("o-g", at=at), tenant="globex")

    work(app)

    assert [r.status for r in inbox_rows(app, "acme") + inbox_rows(app, "globex")] == [
        "processed",
        "processed",
    ]
