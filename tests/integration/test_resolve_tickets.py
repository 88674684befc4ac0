"""Which order a Zendesk ticket is about: the number the customer typed, else their email.

A number names an order when exactly one order has it; the requester's email names the
customer's one recent open order; anything that could be two orders becomes a suggestion
for a reviewer, and the ticket is stored unlinked rather than guessed onto one of them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from builders.events import envelope
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.tables import AliasWait, LinkSuggestion, RecordLink
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items

DAY = timedelta(days=1)


def order(
    ref: str, *, at: datetime, number: str, email: str, customer: str | None = None
) -> dict[str, Any]:
    data = {
        "order_ref": ref,
        "number": number,
        "currency": "USD",
        "total_minor": 5000,
        "placed_at": at.isoformat(),
        "customer": {"customer_ref": customer or f"c-{email}", "email": email},
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 5000}],
    }
    return envelope("order.placed", data, at=at, source="shopify", subject=ref)


def ticket(
    at: datetime, *, ref: str = "77", email: str | None = None, numbers: tuple[str, ...] = ()
) -> dict[str, Any]:
    data = {
        "ticket_ref": ref,
        "source": "zendesk",
        "customer_email": email,
        "subject": "Where is my order?",
        "status": "open",
        "order_keys": [{"kind": "order.number", "value": n} for n in numbers],
    }
    return envelope("ticket.updated", data, at=at, source="zendesk")


def ingest(app: App, clock: FixedClock, *items: dict[str, Any]) -> None:
    report = ingest_items(
        app.sessions, tenant_id="acme", items=list(items), channel="test", clock=clock
    )
    assert report.rejected == [], [r.reason for r in report.rejected]


def stored_ticket(app: App, ref: str = "77") -> str | None:
    """The order the stored ticket is on (None: stored unlinked)."""
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = uow.commerce.ticket("zendesk", ref)
        assert row is not None, f"ticket {ref} is not stored"
        return row.order_ref


def links(app: App) -> list[tuple[str, str, str, str | None, str | None]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(
            select(RecordLink).where(RecordLink.revoked_at.is_(None)).order_by(RecordLink.id)
        )
        return [(r.record_ref, r.order_ref, r.method, r.key_kind, r.key) for r in rows]


def suggestions(app: App) -> list[tuple[str, str, list[str], str | None]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(select(LinkSuggestion).order_by(LinkSuggestion.id))
        return [
            (
                s.record_ref,
                s.status,
                [c["order_ref"] for c in s.candidates["orders"]],
                s.chosen_order_ref,
            )
            for s in rows
        ]


def test_a_ticket_quoting_an_order_number_is_linked_to_that_order(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 3 * DAY
    ingest(
        app,
        clock,
        order("o-a", at=at, number="#1001", email="ann@example.com"),
        order("o-b", at=at, number="#1002", email="ann@example.com"),
    )

    ingest(app, clock, ticket(at + DAY, email="ann@example.com", numbers=("order no. 1001",)))

    assert stored_ticket(app) == "o-a"
    assert links(app) == [("zendesk:77", "o-a", "mention", "order.number", "1001")]
    assert suggestions(app) == []


def test_an_email_with_one_open_order_links_the_ticket_by_email(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 3 * DAY
    ingest(
        app,
        clock,
        order("o-old", at=at - 90 * DAY, number="#900", email="ann@example.com"),
        order("o-a", at=at, number="#1001", email="ann@example.com"),
        order("o-bob", at=at, number="#1002", email="bob@example.com"),
    )

    ingest(app, clock, ticket(at + DAY, email=" Ann@Example.com "))

    assert stored_ticket(app) == "o-a"
    assert links(app) == [("zendesk:77", "o-a", "email", "email", "ann@example.com")]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        link = uow.session.scalar(select(RecordLink))
        assert link is not None
        assert "ann@example.com" in link.evidence
        assert "only open order" in link.evidence


def test_an_email_with_two_open_orders_is_a_suggestion_not_a_guess(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 3 * DAY
    ingest(
        app,
        clock,
        order("o-a", at=at, number="#1001", email="ann@example.com"),
        order("o-b", at=at + DAY, number="#1002", email="ann@example.com"),
    )

    asked = ticket(at + 2 * DAY, email="ann@example.com")
    ingest(app, clock, asked)

    assert (stored_ticket(app), _inbox_status(app, asked)) == (None, "processed")
    assert links(app) == []
    assert suggestions(app) == [("zendesk:77", "open", ["o-a", "o-b"], None)]


def test_a_number_two_orders_share_is_settled_by_the_email_or_asked_about(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 3 * DAY
    ingest(
        app,
        clock,
        order("o-a", at=at, number="#1001", email="ann@example.com"),
        order("o-b", at=at, number="1001", email="bob@example.com"),
    )

    ingest(app, clock, ticket(at + DAY, ref="1", email="bob@example.com", numbers=("#1001",)))
    ingest(app, clock, ticket(at + DAY, ref="2", email="eve@example.com", numbers=("#1001",)))

    assert links(app) == [("zendesk:1", "o-b", "mention", "order.number", "1001")]
    assert suggestions(app) == [("zendesk:2", "open", ["o-a", "o-b"], None)]
    assert stored_ticket(app, "2") is None


def test_a_number_that_names_no_order_yet_waits_for_it(app: App, clock: FixedClock) -> None:
    at = clock.now() - 3 * DAY
    early = ticket(at, email="new@example.com", numbers=("1538",))

    ingest(app, clock, early)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        waits = uow.session.scalars(select(AliasWait.alias)).all()
        assert waits == ["order.number:1538"]
        assert uow.commerce.ticket("zendesk", "77") is None
    assert _inbox_status(app, early) == "deferred"

    ingest(app, clock, order("o-1538", at=at - DAY, number="#1538", email="new@example.com"))

    assert _inbox_status(app, early) == "processed"
    assert stored_ticket(app) == "o-1538"
    assert links(app) == [("zendesk:77", "o-1538", "mention", "order.number", "1538")]


def test_a_later_key_settles_the_ticket_and_supersedes_its_suggestion(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 3 * DAY
    ingest(
        app,
        clock,
        order("o-a", at=at, number="#1001", email="ann@example.com"),
        order("o-b", at=at, number="#1002", email="ann@example.com"),
        ticket(at + DAY, email="ann@example.com"),
    )
    assert suggestions(app) == [("zendesk:77", "open", ["o-a", "o-b"], None)]

    ingest(app, clock, ticket(at + 2 * DAY, email="ann@example.com", numbers=("#1002",)))

    assert stored_ticket(app) == "o-b"
    assert links(app) == [("zendesk:77", "o-b", "mention", "order.number", "1002")]
    assert suggestions(app) == [("zendesk:77", "superseded", ["o-a", "o-b"], "o-b")]


def test_cancelled_and_old_orders_are_not_open_orders_of_the_requester(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - 3 * DAY
    cancel = envelope(
        "order.cancelled", {"order_ref": "o-a"}, at=at + timedelta(hours=1), source="shopify"
    )
    ingest(
        app,
        clock,
        order("o-a", at=at, number="#1001", email="ann@example.com"),
        cancel,
        order("o-old", at=at - 70 * DAY, number="#900", email="ann@example.com"),
    )

    unlinked = ticket(at + DAY, email="ann@example.com")
    ingest(app, clock, unlinked)

    assert (stored_ticket(app), _inbox_status(app, unlinked)) == (None, "processed")
    assert links(app) == []
    assert suggestions(app) == []


def _inbox_status(app: App, item: dict[str, Any]) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = uow.inbox.find(item["source"], item["id"])
        assert row is not None
        return row.status
