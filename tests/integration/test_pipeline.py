"""The processing pipeline on a real database: events in, commerce state and cases out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from builders.events import cancelled, order_placed, payment, scan, shipment
from builders.policies import DECLINES_AT_ONCE, store_detectors
from orderops.bootstrap import App
from orderops.cases.cases import CaseEvent
from orderops.domain.clock import FixedClock
from orderops.storage.repositories.cases import CaseFilter
from orderops.storage.tables import Case, CaseTimelineEntry, InboxEvent
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import BatchReport, ingest_items
from orderops.workflow.sweeps import sweep_late_orders

DAY = timedelta(days=1)


def ingest(app: App, clock: FixedClock, *items: dict[str, Any]) -> BatchReport:
    report = ingest_items(
        app.sessions, tenant_id="acme", items=list(items), channel="test", clock=clock
    )
    assert report.rejected == [], [r.reason for r in report.rejected]
    return report


def sweep(app: App, clock: FixedClock) -> list[CaseEvent]:
    return sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)


def changes(events: list[CaseEvent]) -> list[tuple[str, str, str]]:
    return [(str(e.change), e.exception_type, e.order_ref) for e in events]


def all_cases(app: App, tenant_id: str = "acme") -> list[Case]:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        rows = list(uow.cases.search(CaseFilter(), limit=200, offset=0).items)
        uow.session.expunge_all()
        return rows


def timeline(app: App, case_id: str) -> list[CaseTimelineEntry]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = list(uow.cases.timeline(case_id))
        uow.session.expunge_all()
        return rows


def paid_order(
    order_ref: str, *, placed: datetime, promised: datetime, tracking: str = "1Z999"
) -> list[dict[str, Any]]:
    """An order that was paid and shipped: the state a lateness sweep cares about."""
    return [
        order_placed(order_ref, at=placed, promised_by=promised),
        payment(order_ref, status="captured", at=placed, payment_ref=f"pi_{order_ref}"),
        shipment(order_ref, at=placed + timedelta(hours=6), tracking=tracking),
        scan("in_transit", at=placed + DAY, tracking=tracking, order_ref=order_ref),
    ]


# --- lateness --------------------------------------------------------------------------------


def test_a_passed_promise_opens_a_late_case_only_from_the_sweep(
    app: App, clock: FixedClock
) -> None:
    now = clock.now()

    report = ingest(app, clock, *paid_order("o-1", placed=now - 6 * DAY, promised=now - 2 * DAY))

    assert report.accepted == 4
    assert report.changes == []
    assert all_cases(app) == []
    swept = sweep(app, clock)
    assert changes(swept) == [("opened", "shipment_late", "o-1")]
    (case,) = all_cases(app)
    assert (case.id, case.status) == (swept[0].case_id, "new")
    assert case.facts["last_status"] == "in_transit"
    assert sweep(app, clock) == []


def test_a_promise_still_ahead_opens_nothing(app: App, clock: FixedClock) -> None:
    now = clock.now()
    ingest(app, clock, *paid_order("o-1", placed=now - 2 * DAY, promised=now + DAY))

    assert sweep(app, clock) == []
    clock.advance(2 * DAY)
    assert changes(sweep(app, clock)) == [("opened", "shipment_late", "o-1")]


def test_a_shipment_delivered_before_the_promise_opens_nothing(app: App, clock: FixedClock) -> None:
    now = clock.now()
    promised = now - 2 * DAY

    report = ingest(
        app,
        clock,
        *paid_order("o-1", placed=now - 6 * DAY, promised=promised),
        scan("delivered", at=promised - timedelta(hours=3)),
    )

    assert report.changes == []
    assert sweep(app, clock) == []
    assert all_cases(app) == []


def test_a_shipment_delivered_after_the_promise_is_a_late_case_resolved_at_once(
    app: App, clock: FixedClock
) -> None:
    now = clock.now()
    promised = now - 3 * DAY
    ingest(
        app,
        clock,
        *paid_order("o-1", placed=now - 6 * DAY, promised=promised),
        scan("delivered", at=promised + DAY + timedelta(hours=6)),
    )

    swept = sweep(app, clock)

    assert changes(swept) == [
        ("opened", "shipment_late", "o-1"),
        ("resolved", "shipment_late", "o-1"),
    ]
    (case,) = all_cases(app)
    assert case.status == "resolved"
    assert case.close_reason == "delivered 30h after the promise"
    assert case.closed_at == now
    assert sweep(app, clock) == []


def test_a_late_case_opened_and_resolved_in_one_sweep_lists_opened_first(
    app: App, clock: FixedClock
) -> None:
    """Entries written at the same instant must keep the order they were written in.

    Twelve orders make a coin-flip ordering fail all but once in 4096 runs.
    """
    now = clock.now()
    promised = now - 3 * DAY
    for i in range(12):
        ingest(
            app,
            clock,
            *paid_order(f"o-{i}", placed=now - 6 * DAY, promised=promised, tracking=f"1Z{i}"),
            scan("delivered", at=promised + DAY, tracking=f"1Z{i}", order_ref=f"o-{i}"),
        )

    sweep(app, clock)

    orders = {case.order_ref: [e.kind for e in timeline(app, case.id)] for case in all_cases(app)}
    assert len(orders) == 12
    assert orders == {f"o-{i}": ["opened", "resolved"] for i in range(12)}


def test_a_late_case_resolves_when_the_delivered_scan_arrives(app: App, clock: FixedClock) -> None:
    now = clock.now()
    ingest(app, clock, *paid_order("o-1", placed=now - 6 * DAY, promised=now - 2 * DAY))
    (opened,) = sweep(app, clock)
    clock.advance(timedelta(hours=5))

    report = ingest(app, clock, scan("delivered", at=now + timedelta(hours=4)))

    assert changes(report.changes) == [("resolved", "shipment_late", "o-1")]
    (case,) = all_cases(app)
    assert (case.id, case.status) == (opened.case_id, "resolved")
    assert case.close_reason is not None
    assert case.close_reason.startswith("delivered")
    assert case.closed_at == clock.now()


# --- payments --------------------------------------------------------------------------------


def test_a_failed_payment_that_later_succeeds_resolves_its_case(
    app: App, clock: FixedClock
) -> None:
    store_detectors(app, clock, DECLINES_AT_ONCE)
    at = clock.now() - DAY
    failed = ingest(
        app,
        clock,
        order_placed("o-1", at=at),
        payment("o-1", status="failed", at=at + timedelta(minutes=1), failure_code="card_declined"),
    )
    clock.advance(timedelta(minutes=10))

    recovered = ingest(app, clock, payment("o-1", status="captured", at=at + timedelta(hours=1)))

    assert changes(failed.changes) == [("opened", "payment_failed", "o-1")]
    assert changes(recovered.changes) == [("resolved", "payment_failed", "o-1")]
    (case,) = all_cases(app)
    assert case.status == "resolved"
    assert case.close_reason is not None
    assert "payment" in case.close_reason
    assert case.facts["failure_code"] == "card_declined"


def test_a_new_failure_after_a_recovery_reopens_the_same_case(app: App, clock: FixedClock) -> None:
    """The authorisation that resolved the case lapses, and the retry fails too."""
    store_detectors(app, clock, DECLINES_AT_ONCE)
    at = clock.now() - DAY
    for arriving in (  # one worker pass each: a chunk is judged on the state it leaves
        order_placed("o-1", at=at),
        payment("o-1", status="failed", at=at + timedelta(minutes=1), payment_ref="pi_1"),
        payment("o-1", status="authorized", at=at + timedelta(minutes=5), payment_ref="pi_1"),
        payment("o-1", status="voided", at=at + timedelta(hours=2), payment_ref="pi_1"),
    ):
        ingest(app, clock, arriving)
    (resolved,) = all_cases(app)
    clock.advance(timedelta(hours=1))

    report = ingest(
        app,
        clock,
        payment("o-1", status="failed", at=at + timedelta(hours=3), payment_ref="pi_2"),
    )

    assert resolved.status == "resolved"
    assert changes(report.changes) == [("reopened", "payment_failed", "o-1")]
    (case,) = all_cases(app)
    assert case.id == resolved.id
    assert (case.status, case.reopen_count, case.occurrences) == ("reopened", 1, 2)
    assert case.closed_at is None
    assert case.facts["payment_ref"] == "pi_2"


def test_a_failed_extra_attempt_on_a_paid_order_opens_nothing(app: App, clock: FixedClock) -> None:
    at = clock.now() - DAY
    ingest(
        app,
        clock,
        order_placed("o-1", at=at),
        payment("o-1", status="captured", at=at + timedelta(minutes=1), payment_ref="pi_1"),
    )

    report = ingest(
        app, clock, payment("o-1", status="failed", at=at + timedelta(hours=1), payment_ref="pi_2")
    )

    assert report.changes == []
    assert all_cases(app) == []


# --- order of arrival ------------------------------------------------------------------------


def test_a_cancellation_that_overtakes_its_order_waits_for_it(app: App, clock: FixedClock) -> None:
    at = clock.now() - DAY
    early = cancelled("o-1", at=at + timedelta(hours=1))

    ingest(app, clock, early)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        waiting = uow.inbox.find(early["source"], early["id"])
        assert waiting is not None
        assert waiting.status == "deferred"
        assert uow.commerce.order_by_ref("o-1") is None

    ingest(app, clock, order_placed("o-1", at=at))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        order = uow.commerce.order_by_ref("o-1")
        released = uow.inbox.find(early["source"], early["id"])
        assert order is not None
        assert (order.status, order.cancelled_at) == ("cancelled", at + timedelta(hours=1))
        assert released is not None
        assert released.status == "processed"


def test_an_older_scan_arriving_late_does_not_move_the_shipment_back(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 2 * DAY
    ingest(
        app,
        clock,
        order_placed("o-1", at=at),
        shipment("o-1", at=at + timedelta(hours=1)),
        scan("out_for_delivery", at=at + DAY),
    )

    ingest(app, clock, scan("in_transit", at=at + timedelta(hours=12)))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        stored = uow.commerce.shipment("UPS", "1Z999")
        assert stored is not None
        assert (stored.status, stored.status_at) == ("out_for_delivery", at + DAY)
        history = [t.status for t in uow.commerce.tracking_events(stored.id)]
        assert history == ["in_transit", "out_for_delivery"]


# --- tenants ---------------------------------------------------------------------------------


def test_cases_of_one_tenant_are_invisible_to_another(app: App, clock: FixedClock) -> None:
    store_detectors(app, clock, DECLINES_AT_ONCE)
    at = clock.now() - DAY
    report = ingest(
        app,
        clock,
        order_placed("o-1", at=at),
        payment("o-1", status="failed", at=at + timedelta(minutes=1)),
    )
    (opened,) = report.changes

    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow:
        assert uow.cases.get(opened.case_id) is None
        assert uow.cases.search(CaseFilter(), limit=200, offset=0).total == 0
        assert uow.commerce.order_by_ref("o-1") is None
        assert uow.inbox.pending_ids(limit=10) == []
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(opened.case_id)
        assert case is not None
        assert case.tenant_id == "acme"


def test_every_ingested_event_ends_processed(app: App, clock: FixedClock) -> None:
    now = clock.now()
    ingest(app, clock, *paid_order("o-1", placed=now - 6 * DAY, promised=now + DAY))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        statuses = list(
            uow.session.scalars(select(InboxEvent.status).where(InboxEvent.tenant_id == "acme"))
        )
        assert statuses == ["processed"] * 4
