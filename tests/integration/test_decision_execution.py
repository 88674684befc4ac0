"""From decision to done: a refund is proposed, approved by two people, written to Stripe by
the outbox worker, and the case resolves; when Stripe has moved since, the case fails.

Everything a person does goes through the HTTP API; the writeback worker runs against the
Stripe sandbox on a real socket, whose ledger is the truth about refunds. Each story ends
by verifying the tenant's audit chain.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person
from builders.events import order_placed, payment
from builders.writeback import Sandboxes, drain, fast_runtime, served_sandboxes
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.tables import AuditRecord, Case, OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders

AMOUNT = 200_000
"""Above the finance limit and the two-person limit of the default approval policy."""
_orders = itertools.count(1)


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


def paid_late_case(app: App, clock: FixedClock, intent_id: str) -> str:
    """A late order paid through the Stripe intent ``intent_id``; the sweep opens its case."""
    order_ref = f"o-exec-{next(_orders)}"
    placed = clock.now() - timedelta(days=10)
    items: list[Any] = [
        order_placed(
            order_ref, at=placed, promised_by=placed + timedelta(days=3), total_minor=AMOUNT
        ),
        payment(
            order_ref,
            status="captured",
            at=placed + timedelta(hours=1),
            payment_ref=intent_id,
            amount_minor=AMOUNT,
        ),
    ]
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    assert report.rejected == []
    (opened,) = [
        c.case_id
        for c in sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)
        if c.order_ref == order_ref and c.exception_type == "shipment_late"
    ]
    return opened


def decide_refund(
    http: TestClient, agent: Person, approvers: list[Person], case_id: str
) -> dict[str, Any]:
    proposed = http.post(
        f"/v1/cases/{case_id}/actions",
        json={"kind": "refund", "params": {"reason": "parcel lost"}},
        headers=agent.headers,
    )
    assert proposed.status_code == 201, proposed.text
    action: dict[str, Any] = proposed.json()
    assert action["evaluation"]["approvals"] == len(approvers)
    for who in approvers:
        answer = http.post(f"/v1/actions/{action['id']}/approve", headers=who.headers)
        assert answer.status_code == 200, answer.text
        action = answer.json()
    return action


def case_read(http: TestClient, who: Person, case_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/cases/{case_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def kinds_after(case: dict[str, Any], first: str) -> list[str]:
    kinds = [e["kind"] for e in case["timeline"]]
    return kinds[kinds.index(first) :]


def case_row(app: App, case_id: str) -> Case:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        uow.session.expunge(case)
        return case


def audit_actions(app: App, entity_id: str) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return list(
            uow.session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.tenant_id == "acme", AuditRecord.entity_id == entity_id)
                .order_by(AuditRecord.seq)
            )
        )


def outbox_of(app: App, action_id: str) -> list[OutboxMessage]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = list(
            uow.session.scalars(select(OutboxMessage).where(OutboxMessage.action_id == action_id))
        )
        uow.session.expunge_all()
        return rows


def test_an_approved_refund_is_written_once_and_resolves_the_case(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    agent: Person,
    approver: Person,
    finance: Person,
) -> None:
    intent = sandboxes.stripe.add_payment_intent(amount=AMOUNT)
    case_id = paid_late_case(app, clock, intent)
    action = decide_refund(http, agent, [finance, approver], case_id)
    approved = case_read(http, agent, case_id)["status"]

    clock.advance(timedelta(minutes=5))
    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    assert (action["status"], approved) == ("approved", "approved")
    refunds = sandboxes.stripe.refunds_for(intent)
    assert [(r["amount"], r["status"]) for r in refunds] == [(AMOUNT, "succeeded")]
    assert len(sandboxes.stripe.control.ledger.entries("refund.created")) == 1
    (message,) = outbox_of(app, action["id"])
    assert (message.system, message.operation, message.status) == ("stripe", "refund", "delivered")
    assert message.result is not None
    assert message.result["refund_id"] == refunds[0]["id"]
    done = http.get(f"/v1/actions/{action['id']}", headers=agent.headers).json()
    assert done["status"] == "executed"
    case = case_read(http, agent, case_id)
    assert case["status"] == "resolved"
    assert kinds_after(case, "action_proposed") == [
        "action_proposed",
        "approval_recorded",
        "action_approved",
        "approved",
        "executing",
        "action_executed",
        "resolved",
    ]
    resolved = case["timeline"][-1]
    assert resolved["actor"] == "writeback"
    assert action["id"] in resolved["summary"]
    assert resolved["data"]["from"] == "executing"
    row = case_row(app, case_id)
    assert row.closed_at == clock.now()
    assert row.close_reason == f"executed refund {action['id']}"
    assert audit_actions(app, message.id) == ["writeback.queued", "writeback.delivered"]
    assert audit_actions(app, case_id)[-4:] == [
        "case.approved",
        "case.executing",
        "case.action_executed",
        "case.resolved",
    ]
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def test_a_refund_made_by_hand_after_the_decision_fails_the_case_back_to_review(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    agent: Person,
    approver: Person,
    finance: Person,
) -> None:
    intent = sandboxes.stripe.add_payment_intent(amount=AMOUNT)
    case_id = paid_late_case(app, clock, intent)
    action = decide_refund(http, agent, [finance, approver], case_id)
    runtime = fast_runtime(sandboxes.settings(), clock)
    runtime.connectors.for_tenant("acme").stripe().refund(
        payment_intent=intent, amount_minor=3000, idempotency_key="dashboard"
    )

    drain(app, runtime, clock)

    refunds = sandboxes.stripe.refunds_for(intent)
    assert [r["amount"] for r in refunds] == [3000]
    (message,) = outbox_of(app, action["id"])
    assert message.status == "conflict"
    done = http.get(f"/v1/actions/{action['id']}", headers=agent.headers).json()
    assert done["status"] == "failed"
    case = case_read(http, agent, case_id)
    assert case["status"] == "failed"
    assert kinds_after(case, "action_approved") == [
        "action_approved",
        "approved",
        "executing",
        "writeback_conflict",
        "action_failed",
        "failed",
    ]
    failed = case["timeline"][-1]
    assert failed["data"]["from"] == "executing"
    assert action["id"] in failed["data"]["reason"]
    assert "stripe.refund conflict" in failed["data"]["reason"]
    assert "refunded_minor: expected 0, found 3000" in failed["data"]["reason"]
    assert case_row(app, case_id).closed_at is None
    assert audit_actions(app, case_id)[-3:] == [
        "case.writeback_conflict",
        "case.action_failed",
        "case.failed",
    ]
    assert verify_tenant(app.sessions, tenant_id="acme").ok
