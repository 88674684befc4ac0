"""Builders for erasure and retention tests: a customer with a history in every table
that can hold personal data, and a scan of every text column for what identifies them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.dialects.postgresql import JSONB

from builders.database_roles import owner_sessions
from builders.events import envelope, order_placed
from builders.writeback import make_case
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.evidence.service import EvidenceKind, default_store, store_evidence
from orderops.storage.base import Base
from orderops.storage.tables import (
    CaseTimelineEntry,
    Communication,
    Customer,
    DeadLetter,
    WebhookDelivery,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import process_pending


@dataclass(frozen=True)
class Person:
    key: str
    email: str
    phone: str
    name: str
    street: str

    @property
    def needles(self) -> list[str]:
        return [self.email, self.phone, self.name, self.street]


ANA = Person("ana", "ana.lima@example.com", "+351 912 345 678", "Ana Lima", "Rua Augusta 12")
BEA = Person("bea", "bea.souza@example.com", "+351 933 222 111", "Bea Souza", "Rua do Ouro 7")


@dataclass(frozen=True)
class History:
    customer_id: str
    case_id: str
    blob: str


def with_history(app: App, clock: FixedClock, person: Person, tenant: str = "acme") -> History:
    """``person`` ordered (event with their details and ship-to), wrote a ticket, had a
    resolved case with a message to them, evidence naming them, a raw delivery and a
    dead letter naming them, and an audit record naming them."""
    at = clock.now() - timedelta(hours=2)
    contact = {"name": person.name, "line1": person.street, "city": "Lisboa", "country": "PT"}
    placed = order_placed(f"{person.key}-1", at=at, event_id=f"{person.key}-placed")
    placed["data"]["customer"] = {
        "customer_ref": f"cust-{person.key}",
        "email": person.email,
        "phone": person.phone,
        "name": person.name,
        "address": contact,
    }
    placed["data"]["ship_to"] = contact
    ticket = envelope(
        "ticket.updated",
        {
            "ticket_ref": f"t-{person.key}",
            "source": "zendesk",
            "order_ref": f"{person.key}-1",
            "customer_email": person.email,
            "subject": f"Order for {person.name}",
            "body": f"Hello, I am {person.name}; call me on {person.phone}.",
        },
        at=at + timedelta(minutes=5),
        source="test://zendesk",
        event_id=f"{person.key}-ticket",
    )
    ingest_items(app.sessions, tenant_id=tenant, items=[placed, ticket], channel="t", clock=clock)
    process_pending(app.sessions, tenant_id=tenant, clock=clock)
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        customer_id = uow.session.scalar(select(Customer.id).where(Customer.email == person.email))
    assert customer_id is not None
    case_id = make_case(
        app,
        clock,
        order_ref=f"{person.key}-2",
        tenant_id=tenant,
        customer_id=customer_id,
        exception_type="shipment_late",
        status="resolved",
    )
    now = clock.now()
    snapshot = json.dumps({"customer": {"email": person.email, "name": person.name}})
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        info = store_evidence(
            uow,
            default_store(app.settings),
            data=snapshot.encode(),
            media_type="application/json",
            kind=EvidenceKind.SNAPSHOT,
            actor="test",
            now=now,
        )
        s = uow.session
        s.add(
            CaseTimelineEntry(
                tenant_id=tenant,
                case_id=case_id,
                at=now,
                kind="evidence_added",
                summary=f"Snapshot for {person.name}",
                actor="test",
                data={"sha256": info.sha256, "to": person.email},
            )
        )
        s.add(
            Communication(
                tenant_id=tenant,
                case_id=case_id,
                channel="email",
                recipient=person.email,
                subject="Your parcel",
                body=f"Dear {person.name}, your parcel is late.",
                status="delivered",
                created_by="agent",
                created_at=now,
                updated_at=now,
            )
        )
        raw = json.dumps({"email": person.email, "billing": {"address1": person.street}})
        s.add(
            WebhookDelivery(
                tenant_id=tenant,
                source="shopify",
                delivery_id=f"d-{person.key}",
                body_sha256="0" * 64,
                received_at=now,
                headers={"x-topic": "orders/create"},
                body=raw,
                body_bytes=len(raw),
                status="accepted",
                completed_at=now,
            )
        )
        s.add(
            DeadLetter(
                tenant_id=tenant,
                source="shopify",
                channel="webhook",
                received_at=now,
                reason_code="invalid",
                reason="bad body",
                content_type="application/json",
                body=raw,
                body_bytes=len(raw),
                body_truncated=False,
                status="open",
            )
        )
        uow.audit.append(
            at=now,
            actor="agent:1",
            action="customer.contacted",
            entity_type="customer",
            entity_id=customer_id,
            data={"email": person.email, "note": f"phoned {person.name}"},
        )
        uow.commit()
    return History(customer_id, case_id, info.sha256)


def mentions(app: App, needles: list[str]) -> list[str]:
    """``table.column`` of every stored text or JSON value naming one of ``needles``
    (compared in lower case, as JSON text for JSON values), across every table."""
    lowered = [n.lower() for n in needles]
    found = []
    with owner_sessions(app)() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON | JSONB)]
            if not columns:
                continue
            for row in session.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    text = (
                        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                    )
                    if any(n in (text or "").lower() for n in lowered):
                        found.append(f"{table.name}.{column.name}")
    return sorted(set(found))


def values_of(app: App, table: Any, column: Any, **where: Any) -> list[Any]:
    with owner_sessions(app)() as session:
        query = select(column)
        for name, value in where.items():
            query = query.where(getattr(table, name) == value)
        return list(session.scalars(query))
