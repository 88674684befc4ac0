"""Refunding a shipping label: once per label in EasyPost, and as a reship saga's undo.

The sandbox ledger is the truth: "refunded once" is counted there. A reship whose step
after the label purchase fails must give the postage back and end ``compensated``.
"""

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
from orderops.writeback.connectors.base import PermanentError
from orderops.writeback.connectors.easypost import EasyPostConnector
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


@pytest.fixture
def easypost(sandboxes: Sandboxes) -> Iterator[EasyPostConnector]:
    runtime = fast_runtime(sandboxes.settings(), FixedClock(T0))
    yield runtime.connectors.for_tenant("acme").easypost()
    runtime.close()


def bought_label(easypost: EasyPostConnector) -> str:
    shipment = easypost.create_shipment(
        to_address=ADDRESS, from_address=WAREHOUSE, parcel={"weight": 16.0}, reference="r-1"
    )
    easypost.buy(shipment_id=shipment.id, rate_id=shipment.rates[0].id, idempotency_key="buy")
    return shipment.id


def test_refunding_a_bought_label_submits_one_refund(
    sandboxes: Sandboxes, easypost: EasyPostConnector
) -> None:
    shipment_id = bought_label(easypost)

    refunded = easypost.refund_label(shipment_id=shipment_id, idempotency_key="undo-1")

    assert (refunded.id, refunded.refund_status, refunded.replayed) == (
        shipment_id,
        "submitted",
        False,
    )
    assert sandboxes.easypost.shipment(shipment_id)["refund_status"] == "submitted"
    (entry,) = sandboxes.easypost.control.ledger.entries("shipment.refunded")
    assert entry.target == shipment_id


def test_a_second_refund_of_the_same_label_reports_the_first_and_asks_nothing(
    sandboxes: Sandboxes, easypost: EasyPostConnector
) -> None:
    shipment_id = bought_label(easypost)
    first = easypost.refund_label(shipment_id=shipment_id, idempotency_key="undo-1")

    second = easypost.refund_label(shipment_id=shipment_id, idempotency_key="undo-2")

    assert (second.refund_status, second.replayed) == (first.refund_status, True)
    assert len(sandboxes.easypost.control.ledger.entries("shipment.refunded")) == 1


def test_the_sandbox_answers_a_repeated_refund_request_with_the_earlier_refund(
    sandboxes: Sandboxes, easypost: EasyPostConnector
) -> None:
    shipment_id = bought_label(easypost)
    api = fast_runtime(sandboxes.settings(), FixedClock(T0)).connectors.for_tenant("acme")
    client = api.easypost_api()

    answers = [client.request_json("POST", f"/v2/shipments/{shipment_id}/refund") for _ in range(2)]

    assert [a["refund_status"] for a in answers] == ["submitted", "submitted"]
    assert [a["id"] for a in answers] == [shipment_id, shipment_id]
    assert len(sandboxes.easypost.control.ledger.entries("shipment.refunded")) == 1


def test_a_label_never_bought_cannot_be_refunded(
    sandboxes: Sandboxes, easypost: EasyPostConnector
) -> None:
    shipment = easypost.create_shipment(
        to_address=ADDRESS, from_address=WAREHOUSE, parcel={"weight": 16.0}, reference="r-2"
    )

    with pytest.raises(PermanentError) as raised:
        easypost.refund_label(shipment_id=shipment.id, idempotency_key="undo-1")

    assert raised.value.provider_code == "SHIPMENT.REFUND.UNAVAILABLE"
    assert sandboxes.easypost.control.ledger.entries("shipment.refunded") == []


def reship_plan(box: Sandboxes) -> ReshipPlan:
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
        order_id="o-9",
        shopify_order_id=shopify_order,
        sku="SKU-1",
        quantity=1,
        to_address=ADDRESS,
        from_address=WAREHOUSE,
        parcel={"weight": 16.0},
        customer_id=customer,
        ticket_id=ticket.id,
    )


def test_a_shop_note_refused_after_the_label_was_bought_refunds_the_label(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    case_id = make_case(app, clock, order_ref="o-9")
    plan = reship_plan(sandboxes)
    sandboxes.shopify.control.inject(
        Fault(kind=FaultKind.VALIDATION, method="PUT", path_contains="/orders/")
    )
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        saga_id = start_saga(
            uow,
            case_id=case_id,
            kind=KIND,
            steps=reship_steps(plan),
            now=clock.now(),
            key="action-9",
            order_ref="o-9",
        )
        uow.commit()

    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        saga = uow.session.get(WritebackSaga, saga_id)
        assert saga is not None
        steps = [
            (s.name, s.state)
            for s in uow.session.scalars(
                select(WritebackSagaStep)
                .where(WritebackSagaStep.saga_id == saga_id)
                .order_by(WritebackSagaStep.position)
            )
        ]
        undo = uow.session.scalar(
            select(OutboxMessage).where(OutboxMessage.idempotency_key == "action-9:3:label:undo")
        )
        assert undo is not None
        undo_state = (undo.operation, undo.status, undo.result)
        summaries = [
            e.summary
            for e in uow.session.scalars(
                select(CaseTimelineEntry)
                .where(CaseTimelineEntry.case_id == case_id, CaseTimelineEntry.kind == "saga_step")
                .order_by(CaseTimelineEntry.id)
            )
        ]
        saga_status, saga_reason = saga.status, saga.reason
    assert saga_status == "compensated"
    assert saga_reason is not None
    assert saga_reason.startswith("shop_note failed")
    assert steps == [
        ("reserve", "compensated"),
        ("shipment", "compensated"),
        ("label", "compensated"),
        ("shop_note", "failed"),
        ("crm_note", "pending"),
        ("ticket_comment", "pending"),
    ]
    (bought,) = sandboxes.easypost.control.ledger.entries("shipment.bought")
    (refunded,) = sandboxes.easypost.control.ledger.entries("shipment.refunded")
    assert refunded.target == bought.target
    assert refunded.data["tracking_code"] == bought.data["tracking_code"]
    assert undo_state == (
        "refund_label",
        "delivered",
        {"shipment_id": bought.target, "refund_status": "submitted", "replayed": False},
    )
    assert [r["status"] for r in sandboxes.wms.reservations("o-9")] == ["released"]
    assert sandboxes.crm.notes(plan.customer_id) == []
    assert summaries[-5:] == [
        "reship step 4 shop_note: failed",
        "reship step 3 label: compensated",
        "reship step 2 shipment: compensated",
        "reship step 1 reserve: compensated",
        "reship compensated",
    ]
