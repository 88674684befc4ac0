"""Every ticket is classified as it is stored; a confident cancel request on an order
that has not shipped opens a case of its own, and the class shows on the case."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from builders.access import client, person
from builders.console import console_person, signed_in
from builders.events import envelope, scan, shipment
from orderops.bootstrap import App
from orderops.detect.ticket_classes import shipped_ticket_classifier
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items

HOUR = timedelta(hours=1)


def order(ref: str, *, at: datetime, number: str) -> dict[str, Any]:
    data = {
        "order_ref": ref,
        "number": number,
        "currency": "USD",
        "total_minor": 5000,
        "placed_at": at.isoformat(),
        "customer": {"customer_ref": f"c-{ref}", "email": f"{ref}@example.com"},
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 5000}],
    }
    return envelope("order.placed", data, at=at, source="shopify", subject=ref)


def ticket(at: datetime, *, ref: str, order_ref: str, subject: str, body: str) -> dict[str, Any]:
    data = {
        "ticket_ref": ref,
        "source": "zendesk",
        "order_ref": order_ref,
        "subject": subject,
        "body": body,
        "status": "open",
    }
    return envelope("ticket.updated", data, at=at, source="zendesk")


def ingest(app: App, clock: FixedClock, *items: dict[str, Any]) -> None:
    report = ingest_items(
        app.sessions, tenant_id="acme", items=list(items), channel="test", clock=clock
    )
    assert report.rejected == [], [r.reason for r in report.rejected]


def stored(app: App, ref: str) -> tuple[str | None, float | None, str | None]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = uow.commerce.ticket("zendesk", ref)
        assert row is not None
        return row.ticket_class, row.ticket_class_confidence, row.ticket_class_model


def open_cases(app: App, order_ref: str) -> dict[str, str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(select(Case).where(Case.order_ref == order_ref))
        return {c.exception_type: c.id for c in rows if c.closed_at is None}


def test_a_cancel_request_on_an_unshipped_order_is_classified_and_opens_a_case(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 5 * HOUR
    ingest(app, clock, order("o-1", at=at, number="#1001"))
    ingest(
        app,
        clock,
        ticket(
            at + HOUR,
            ref="t-1",
            order_ref="o-1",
            subject="Please cancel order #1001",
            body="Hola, hice el pedido por error. Por favor cancelen mi pedido.",
        ),
    )

    ticket_class, confidence, model = stored(app, "t-1")
    assert ticket_class == "cancel_request"
    assert confidence is not None
    assert confidence >= 0.75
    assert model == shipped_ticket_classifier().card.version
    cases = open_cases(app, "o-1")
    assert "cancel_requested" in cases

    admin = person(app, clock, tenant="acme", role=Role.ADMIN)
    answer = client(app).get(f"/v1/cases/{cases['cancel_requested']}", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    shown = answer.json()["ticket_class"]
    assert (shown["ticket_ref"], shown["ticket_class"]) == ("t-1", "cancel_request")
    assert answer.json()["facts"]["ticket"] == "t-1"

    reviewer = signed_in(app, console_person(app, clock, role=Role.AGENT))
    page = reviewer.get(f"/console/cases/{cases['cancel_requested']}")
    assert page.status_code == 200
    assert "Customer asks" in page.text
    assert "cancel request" in page.text


def test_a_where_is_my_order_ticket_is_classified_and_opens_no_cancel_case(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 5 * HOUR
    ingest(app, clock, order("o-2", at=at, number="#1002"))
    ingest(
        app,
        clock,
        ticket(
            at + HOUR,
            ref="t-2",
            order_ref="o-2",
            subject="Wo ist meine Bestellung?",
            body="Mein Paket ist immer noch nicht angekommen.",
        ),
    )

    assert stored(app, "t-2")[0] == "where_is_my_order"
    assert "cancel_requested" not in open_cases(app, "o-2")


def address_case(app: App, order_ref: str) -> dict[str, Any] | None:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        for case in uow.session.scalars(select(Case).where(Case.order_ref == order_ref)):
            if case.exception_type == "address_problem":
                return {"open": case.closed_at is None, "facts": case.facts, "why": case.summary}
    return None


def test_an_address_change_asked_before_the_first_scan_opens_an_address_problem(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 5 * HOUR
    ingest(app, clock, order("o-3", at=at, number="#1003"))
    ingest(
        app,
        clock,
        ticket(
            at + HOUR,
            ref="t-3",
            order_ref="o-3",
            subject="Cambio de dirección",
            body="Por favor envíen mi pedido #1003 a otra dirección, me mudé.",
        ),
    )

    assert stored(app, "t-3")[0] == "address_change"
    case = address_case(app, "o-3")
    assert case is not None
    assert case["open"]
    assert (case["facts"]["ticket"], case["facts"]["ticket_class"]) == ("t-3", "address_change")
    assert "asked to change the delivery address" in case["why"]


def test_an_address_change_asked_after_the_carrier_scanned_opens_nothing(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 5 * HOUR
    ingest(app, clock, order("o-4", at=at, number="#1004"))
    ingest(
        app,
        clock,
        shipment("o-4", at=at + HOUR, tracking="1Z4"),
        scan("in_transit", at=at + 2 * HOUR, tracking="1Z4", order_ref="o-4"),
    )
    ingest(
        app,
        clock,
        ticket(
            at + 3 * HOUR,
            ref="t-4",
            order_ref="o-4",
            subject="Wrong address",
            body="I need to change my shipping address for order #1004",
        ),
    )

    assert stored(app, "t-4")[0] == "address_change"
    assert address_case(app, "o-4") is None
