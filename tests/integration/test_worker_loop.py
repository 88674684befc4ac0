"""The worker loop never stops opening cases: what fails is logged and the loop goes on."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from builders.events import order_placed, payment
from builders.writeback import Sandboxes, connect_sandboxes
from orderops.bootstrap import App
from orderops.cases.cases import CaseEvent
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import Outcome, accept_items
from orderops.storage.repositories.cases import CaseFilter
from orderops.storage.tables import OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow import worker
from orderops.workflow.worker import run_forever
from orderops.writeback.outbox import enqueue


def _receive_failed_payment(app: App, clock: FixedClock, order_ref: str) -> None:
    """Store (do not process) an order whose payment failed: the worker's work to do."""
    at = clock.now() - timedelta(hours=1)
    items = [
        order_placed(order_ref, at=at, promised_by=at + timedelta(days=5)),
        payment(order_ref, status="failed", at=at, payment_ref=f"pi_{order_ref}"),
    ]
    results = accept_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]


def _open_cases(app: App) -> set[tuple[str, str]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        page = uow.cases.search(CaseFilter(open_only=True), limit=100, offset=0)
        return {(c.order_ref, c.exception_type) for c in page.items}


def test_the_loop_keeps_opening_cases_after_a_pass_whose_listener_failed(
    app: App, clock: FixedClock
) -> None:
    seen: list[list[CaseEvent]] = []
    second = threading.Event()

    def listener(changes: list[CaseEvent]) -> None:
        seen.append(changes)
        if len(seen) == 1:
            raise RuntimeError("the console printer broke")
        second.set()

    stop = threading.Event()
    _receive_failed_payment(app, clock, "o-1")
    loop = threading.Thread(
        target=run_forever,
        kwargs={"app": app, "stop": stop, "interval": 0.05, "on_changes": listener},
    )
    loop.start()
    try:
        while not seen and loop.is_alive():
            stop.wait(0.05)
        _receive_failed_payment(app, clock, "o-2")
        assert second.wait(timeout=60), "the loop stopped after the listener failed"
    finally:
        stop.set()
        loop.join(timeout=60)

    assert [[(c.order_ref, c.exception_type) for c in batch] for batch in seen] == [
        [("o-1", "payment_failed")],
        [("o-2", "payment_failed")],
    ]
    assert _open_cases(app) == {("o-1", "payment_failed"), ("o-2", "payment_failed")}


def test_an_approved_refund_leaves_while_a_long_full_pass_is_still_running(
    app: App, clock: FixedClock, sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the demo an approved refund waited for as long as the full pass drained a backlog;
    writebacks have a loop of their own, so a full pass that does not end holds none back."""
    connect_sandboxes(app, clock, sandboxes, tenant="acme")
    in_pass, release = threading.Event(), threading.Event()

    def a_long_step(*_: object, **__: object) -> None:
        in_pass.set()
        release.wait(timeout=60)

    monkeypatch.setattr(worker, "recommend_new_cases", a_long_step)
    stop = threading.Event()
    loop = threading.Thread(target=run_forever, kwargs={"app": app, "stop": stop, "interval": 0.05})
    loop.start()
    try:
        assert in_pass.wait(timeout=30), "the full pass never reached its long step"
        intent = sandboxes.stripe.add_payment_intent(amount=3000)
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            message_id = enqueue(
                uow,
                system="stripe",
                operation="refund",
                idempotency_key="approved-while-the-pass-runs",
                payload={"payment_intent": intent, "amount_minor": 1200},
                now=clock.now(),
            )
            uow.commit()
        status = ""
        for _ in range(300):
            with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
                row = uow.session.get(OutboxMessage, message_id)
                status = row.status if row is not None else "missing"
            if status == "delivered" or stop.wait(0.1):
                break
        assert not release.is_set()
    finally:
        release.set()
        stop.set()
        loop.join(timeout=60)

    assert status == "delivered"
    refunds = sandboxes.stripe.control.ledger.entries("refund.created")
    assert [e.idempotency_key for e in refunds] == ["approved-while-the-pass-runs"]


def test_a_worker_told_to_stop_ends_without_waiting_out_its_poll(app: App) -> None:
    """``orderops worker`` on SIGTERM (a deploy, a scale-down) waited up to its inbox poll,
    30 s here, before it ended."""
    stop = threading.Event()
    loop = threading.Thread(
        target=run_forever, kwargs={"app": app, "stop": stop, "interval": 3600.0, "poll": 30.0}
    )
    loop.start()
    stop.wait(1.0)  # the first drain is behind it: the loop waits for an arrival

    stop.set()
    loop.join(timeout=10.0)

    assert not loop.is_alive()


def test_sla_tiers_are_refreshed_once_a_minute_not_on_every_pass(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full pass comes every few seconds; the tiers move on a clock of minutes."""
    refreshed: list[str] = []
    monkeypatch.setattr(
        worker, "refresh_jeopardy", lambda *a, **k: refreshed.append(k["tenant_id"])
    )
    _receive_failed_payment(app, clock, "o-1")  # a tenant with something to refresh

    worker.run_once(app, writeback=False)
    clock.advance(timedelta(seconds=59))
    worker.run_once(app, writeback=False)
    assert refreshed.count("acme") == 1

    clock.advance(timedelta(seconds=1))
    worker.run_once(app, writeback=False)
    assert refreshed.count("acme") == 2
