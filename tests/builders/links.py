"""Builders for link decisions: two orders, a customer chasing one of them, and a third
ticket resolve could not place, left with an open suggestion as resolve leaves it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from builders.events import envelope, order_placed
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.tables import LinkSuggestion
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items

_worlds = itertools.count(1)


def ticket(
    ref: str,
    *,
    at: datetime,
    order_ref: str | None = None,
    email: str = "someone@elsewhere.example",
    subject: str = "Where is my parcel?",
) -> dict[str, Any]:
    """A Zendesk ticket; without ``order_ref`` it names no order at all (no number in its
    text, an email no customer has), so resolve can only leave it unlinked."""
    data = {
        "ticket_ref": ref,
        "source": "zendesk",
        "order_ref": order_ref,
        "customer_email": email,
        "subject": subject,
        "body": "Hello, I am still waiting.",
        "status": "open",
    }
    return envelope("ticket.updated", data, at=at, source="test://zendesk")


@dataclass(frozen=True)
class LinkWorld:
    tenant: str
    order_a: str
    order_b: str
    number_a: str
    number_b: str
    ticket_ref: str
    record_ref: str
    suggestion_id: str


def suggested_ticket(app: App, clock: FixedClock, *, tenant: str = "acme") -> LinkWorld:
    """Orders A and B; two open tickets on A (one short of ``customer_chasing``); a third
    ticket naming neither, with an open suggestion offering A and B."""
    n = next(_worlds)
    now = clock.now()
    placed = now - timedelta(days=1)
    a, b = f"o-{tenant}-a{n}", f"o-{tenant}-b{n}"
    number_a, number_b = f"{7000 + 2 * n}", f"{7001 + 2 * n}"
    third = f"{tenant}-t{n}-3"
    items = [
        order_placed(a, at=placed, number=number_a),
        order_placed(b, at=placed + timedelta(minutes=5), number=number_b),
        ticket(f"{tenant}-t{n}-1", at=now - timedelta(hours=5), order_ref=a),
        ticket(f"{tenant}-t{n}-2", at=now - timedelta(hours=4), order_ref=a),
        ticket(third, at=now - timedelta(hours=3)),
    ]
    report = ingest_items(app.sessions, tenant_id=tenant, items=items, channel="test", clock=clock)
    assert report.rejected == []
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        suggestion = LinkSuggestion(
            tenant_id=tenant,
            record_type="ticket",
            record_ref=f"zendesk:{third}",
            candidates={
                "orders": [
                    {"order_ref": a, "number": number_a, "evidence": "requester wrote to A"},
                    {"order_ref": b, "number": number_b, "evidence": "requester wrote to B"},
                ]
            },
            reason="the requester's email names a customer with two open orders",
            status="open",
            created_at=now - timedelta(hours=3),
        )
        uow.session.add(suggestion)
        uow.commit()
        suggestion_id = suggestion.id
    return LinkWorld(
        tenant=tenant,
        order_a=a,
        order_b=b,
        number_a=number_a,
        number_b=number_b,
        ticket_ref=third,
        record_ref=f"zendesk:{third}",
        suggestion_id=suggestion_id,
    )


def ticket_order(app: App, world: LinkWorld) -> str | None:
    """Which order the third ticket sits on now, as detectors read it."""
    with UnitOfWork(app.sessions, tenant_id=world.tenant, write=False) as uow:
        row = uow.commerce.ticket("zendesk", world.ticket_ref)
        assert row is not None
        return row.order_ref


def audit_actions(app: App, tenant: str = "acme") -> list[tuple[str, str, dict[str, Any]]]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        return [(r.action, r.actor, dict(r.data)) for r in uow.audit.records()]
