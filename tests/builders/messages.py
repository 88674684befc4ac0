"""Builders for customer messages: a case on an order whose customer wrote in (a Zendesk
ticket in the sandbox and in the desk), a message drafted and approved over the API, a
step on it, and what the sandbox and the outbox hold afterwards. Shared by the delivery,
bounce and one-voice tests."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person
from builders.writeback import Sandboxes, make_case
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.notifications import NoticePolicy
from orderops.storage.tables import (
    CaseTimelineEntry,
    Communication,
    Customer,
    OutboxMessage,
    SupportTicket,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow.notifications import set_policy

TICKET = 501
BODY = "Your parcel left our warehouse today; tracking follows by email."


def with_ticket(app: App, clock: FixedClock, box: Sandboxes, *, order_ref: str) -> str:
    """A case on an order whose customer wrote in: ticket 501 at Zendesk and in the desk."""
    case_id = make_case(app, clock, order_ref=order_ref)
    box.zendesk.seed_ticket(
        ticket_id=TICKET,
        subject="Where is my order?",
        body="Hello, where is my parcel?",
        status="open",
        requester_email="kim@example.com",
    )
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.add(
            SupportTicket(
                tenant_id="acme",
                source="zendesk",
                ticket_ref=str(TICKET),
                order_ref=order_ref,
                customer_email="kim@example.com",
                subject="Where is my order?",
                status="open",
                opened_at=clock.now(),
                source_updated_at=clock.now(),
            )
        )
        uow.commit()
    return case_id


def approved(
    http: TestClient, agent: Person, approver: Person, case_id: str, **draft: Any
) -> dict[str, Any]:
    drafted = http.post(
        f"/v1/cases/{case_id}/communications",
        json={"body": BODY, **draft},
        headers=agent.headers,
    )
    assert drafted.status_code == 201, drafted.text
    message = drafted.json()
    answer = http.post(
        f"/v1/communications/{message['id']}/approve",
        json={"version": message["version"]},
        headers=approver.headers,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def act(
    http: TestClient, who: Person, message: dict[str, Any], step: str, **extra: Any
) -> httpx.Response:
    """A step (approve, send, retry) on the message at the version it was read at."""
    answer: httpx.Response = http.post(
        f"/v1/communications/{message['id']}/{step}",
        json={"version": message["version"], **extra},
        headers=who.headers,
    )
    return answer


def current(http: TestClient, who: Person, case_id: str) -> dict[str, Any]:
    listed = http.get(f"/v1/cases/{case_id}/communications", headers=who.headers)
    assert listed.status_code == 200, listed.text
    (message,) = listed.json()["items"]
    return dict(message)


def outbox_rows(app: App) -> list[tuple[str, str, str]]:
    """Every acme outbox row as (operation, idempotency key, status)."""
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.execute(
            select(OutboxMessage.operation, OutboxMessage.idempotency_key, OutboxMessage.status)
        )
        return [(r.operation, r.idempotency_key, r.status) for r in rows]


def ours(box: Sandboxes) -> list[dict[str, Any]]:
    return [c for c in box.zendesk.comments(TICKET) if c["body"] == BODY]


# -- customers, their cases and the tenant's notice rule (one voice) ------------------

_n = itertools.count(1)


def customer(app: App, clock: FixedClock, *, locale: str | None = None) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        row = Customer(
            tenant_id="acme",
            email=f"c{next(_n)}@example.com",
            name="Ana Lima",
            locale=locale,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        uow.session.add(row)
        uow.commit()
        return row.id


def case_for(app: App, clock: FixedClock, customer_id: str | None, kind: str) -> str:
    return make_case(
        app,
        clock,
        order_ref=f"N-{next(_n)}",
        customer_id=customer_id,
        exception_type=kind,
        status="new",
    )


def policy(app: App, clock: FixedClock, **rules: Any) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        set_policy(uow, NoticePolicy.model_validate(rules), actor="test", now=clock.now())
        uow.commit()


def messages(app: App, case_id: str) -> list[Communication]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        found = list(
            uow.session.scalars(select(Communication).where(Communication.case_id == case_id))
        )
        uow.session.expunge_all()  # read after the unit of work ends
        return found


def timeline(app: App, case_id: str) -> list[tuple[str, str]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(
            select(CaseTimelineEntry)
            .where(CaseTimelineEntry.case_id == case_id)
            .order_by(CaseTimelineEntry.at, CaseTimelineEntry.id)
        )
        return [(r.kind, r.summary) for r in rows]
