"""The reship saga over the sandboxes: steps in order, undo in reverse when a step fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from builders.writeback import Sandboxes, drain, fast_runtime, make_case, served_sandboxes
from conftest import T0
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.sandbox import Fault, FaultKind
from orderops.storage.tables import CaseTimelineEntry, OutboxMessage
from orderops.storage.tables.writeback import WritebackSaga, WritebackSagaStep
from orderops.storage.uow import UnitOfWork
from orderops.writeback.outbox import DuplicateEffect
from orderops.writeback.reship import KIND, ReshipPlan, reship_steps
from orderops.writeback.sagas import start_saga

ADDRESS = {"name": "Ana", "street1": "1 Main St", "city": "Austin", "zip": "78701", "country": "US"}
WAREHOUSE = {"name": "WH", "street1": "9 Dock Rd", "city": "Reno", "zip": "89501", "country": "US"}


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


def plan(box: Sandboxes) -> ReshipPlan:
    box.wms.set_stock("SKU-1", 5)
    shopify_order, _ = box.shopify.add_order()
    customer = box.crm.add_customer(email="ana@example.com")
    runtime = fast_runtime(box.settings(), FixedClock(T0))
    ticket = (
        runtime.connectors.for_tenant("acme")
        .zendesk()
        .create_ticket(
            subject="Parcel lost",
            body="Never arrived",
            requester_email="ana@example.com",
            idempotency_key="seed",
        )
    )
    runtime.close()
    return ReshipPlan(
        order_id="o-5",
        shopify_order_id=shopify_order,
        sku="SKU-1",
        quantity=1,
        to_address=ADDRESS,
        from_address=WAREHOUSE,
        parcel={"weight": 16.0},
        customer_id=customer,
        ticket_id=ticket.id,
    )


def begin(app: App, clock: FixedClock, case_id: str, reship: ReshipPlan) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        saga_id = start_saga(
            uow,
            case_id=case_id,
            kind=KIND,
            steps=reship_steps(reship),
            now=clock.now(),
            key="action-17",
            order_ref="o-5",
        )
        uow.commit()
    return saga_id


def saga_state(app: App, saga_id: str) -> tuple[str, list[tuple[str, str]]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        saga = uow.session.get(WritebackSaga, saga_id)
        assert saga is not None
        steps = uow.session.scalars(
            select(WritebackSagaStep)
            .where(WritebackSagaStep.saga_id == saga_id)
            .order_by(WritebackSagaStep.position)
        )
        return saga.status, [(s.name, s.state) for s in steps]


def timeline(app: App, case_id: str) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return [
            e.summary
            for e in uow.session.scalars(
                select(CaseTimelineEntry)
                .where(CaseTimelineEntry.case_id == case_id, CaseTimelineEntry.kind == "saga_step")
                .order_by(CaseTimelineEntry.id)
            )
        ]


def test_a_reship_runs_every_step_once_in_order(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    case_id = make_case(app, clock, order_ref="o-5")
    reship = plan(sandboxes)
    saga_id = begin(app, clock, case_id, reship)

    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    assert saga_state(app, saga_id) == (
        "completed",
        [
            ("reserve", "done"),
            ("shipment", "done"),
            ("label", "done"),
            ("shop_note", "done"),
            ("crm_note", "done"),
            ("ticket_comment", "done"),
        ],
    )
    (bought,) = sandboxes.easypost.control.ledger.entries("shipment.bought")
    order_note = sandboxes.shopify.order(reship.shopify_order_id)["note"]
    assert bought.data["tracking_code"] in order_note
    assert [r["status"] for r in sandboxes.wms.reservations("o-5")] == ["active"]
    assert len(sandboxes.crm.notes(reship.customer_id)) == 1
    assert timeline(app, case_id)[-1] == "reship completed"
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        keys = sorted(
            uow.session.scalars(
                select(OutboxMessage.idempotency_key).where(OutboxMessage.case_id == case_id)
            )
        )
    assert keys == [
        "action-17:1:reserve",
        "action-17:2:shipment",
        "action-17:3:label",
        "action-17:4:shop_note",
        "action-17:5:crm_note",
        "action-17:6:ticket_comment",
    ]


def test_a_failing_label_purchase_releases_the_stock_and_stops_the_saga(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    case_id = make_case(app, clock, order_ref="o-5")
    reship = plan(sandboxes)
    sandboxes.easypost.control.inject(
        Fault(kind=FaultKind.VALIDATION, method="POST", path_contains="/buy")
    )
    saga_id = begin(app, clock, case_id, reship)

    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    assert saga_state(app, saga_id) == (
        "compensated",
        [
            ("reserve", "compensated"),
            ("shipment", "compensated"),
            ("label", "failed"),
            ("shop_note", "pending"),
            ("crm_note", "pending"),
            ("ticket_comment", "pending"),
        ],
    )
    assert sandboxes.easypost.control.ledger.entries("shipment.bought") == []
    assert [r["status"] for r in sandboxes.wms.reservations("o-5")] == ["released"]
    assert sandboxes.shopify.control.ledger.entries("order.updated") == []
    assert sandboxes.crm.notes(reship.customer_id) == []
    assert timeline(app, case_id) == [
        "reship step 1 reserve: pending",
        "reship step 1 reserve: done",
        "reship step 2 shipment: pending",
        "reship step 2 shipment: done",
        "reship step 3 label: pending",
        "reship step 3 label: failed",
        "reship step 2 shipment: compensated",
        "reship step 1 reserve: compensated",
        "reship compensated",
    ]


def test_starting_the_same_reship_twice_is_refused(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    case_id = make_case(app, clock, order_ref="o-5")
    reship = plan(sandboxes)
    begin(app, clock, case_id, reship)

    with pytest.raises(DuplicateEffect):
        begin(app, clock, case_id, reship)
