"""Money that escapes approval (issue #18, holes 1 and 2), closed through the API.

Each remedy is judged on what is already committed on its order plus its own amount: a
refund split into small pieces meets the tiers of the whole, a refund never goes past
what is captured less what is refunded or committed, a cancellation or a capture is judged
by the money it moves, and a policy that would leave a money kind to the plain default is
refused when stored.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person, late_case, person
from builders.events import envelope, order_placed, payment
from builders.writeback import Sandboxes, drain, fast_runtime, served_sandboxes
from orderops.bootstrap import App
from orderops.domain.approval_policy import DEFAULT_POLICY
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders


def propose(http: TestClient, who: Person, case_id: str, kind: str, **params: Any) -> Any:
    return http.post(
        f"/v1/cases/{case_id}/actions", json={"kind": kind, "params": params}, headers=who.headers
    )


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def problem(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.json()["type"].endswith("/" + code)
    detail: str = response.json()["detail"]
    return detail


def refunds_queued(app: App) -> list[int]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.tenant_id == "acme", OutboxMessage.operation == "refund")
            .order_by(OutboxMessage.created_at, OutboxMessage.idempotency_key)
        )
        return [int(r.payload["amount_minor"]) for r in rows]


def keep_waiting(http: TestClient, who: Person, case_id: str) -> None:
    """Something that waits for a person, so the case sits in awaiting_approval and keeps
    taking proposals (how the split refunds of issue #18 were queued)."""
    waiting = created(propose(http, who, case_id, "release_fulfillment", note="after review"))
    assert waiting["status"] == "awaiting_approval"


def order_ref_of(http: TestClient, who: Person, case_id: str) -> str:
    ref: str = http.get(f"/v1/cases/{case_id}", headers=who.headers).json()["order_ref"]
    return ref


def test_split_refunds_by_a_service_key_meet_the_tiers_of_their_sum_and_the_refundable_cap(
    app: App,
    clock: FixedClock,
    http: TestClient,
    service: Person,
    approver: Person,
    finance: Person,
) -> None:
    case_id = late_case(app, clock, total_minor=63_800)
    keep_waiting(http, service, case_id)

    first = created(propose(http, service, case_id, "refund", amount_minor=2500, reason="late"))
    second = created(propose(http, service, case_id, "refund", amount_minor=2500, reason="late"))
    third = propose(http, service, case_id, "refund", amount_minor=2500, reason="late")
    queued_while_waiting = refunds_queued(app)
    approved = http.post(f"/v1/actions/{second['id']}/approve", headers=approver.headers)
    over = propose(http, service, case_id, "refund", amount_minor=58_801, reason="late")
    rest = created(propose(http, service, case_id, "refund", amount_minor=58_800, reason="late"))
    beyond = propose(http, service, case_id, "refund", amount_minor=1, reason="late")

    # only the first piece fits the auto-approve limit; the second is judged as 5000 in all
    assert (first["status"], first["auto_rule"]) == ("approved", "small-low-risk")
    assert second["status"] == "awaiting_approval"
    assert second["evaluation"]["required"] == ["approver"]
    assert second["evaluation"]["inputs"]["committed_minor"] == 2500
    assert second["evaluation"]["inputs"]["exposure_minor"] == 5000
    assert "already awaits approval" in problem(third, 409, "remedy-pending")
    assert queued_while_waiting == [2500]
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert "exceeds the 58800 still refundable" in problem(over, 409, "remedy-exceeds-order")
    assert rest["status"] == "awaiting_approval"
    assert rest["evaluation"]["required"] == ["finance"]
    assert rest["evaluation"]["inputs"]["exposure_minor"] == 63_800
    # the rest is spoken for while it waits: a pending one of the same kind refuses another
    assert beyond.status_code == 409
    finished = http.post(f"/v1/actions/{rest['id']}/approve", headers=finance.headers)
    assert finished.status_code == 200, finished.text
    nothing_left = propose(http, service, case_id, "refund", amount_minor=1, reason="late")
    assert "no payment with money to refund" in problem(nothing_left, 409, "remedy-exceeds-order")
    assert refunds_queued(app) == [2500, 2500, 58_800]
    assert sum(refunds_queued(app)) == 63_800


def test_a_pending_remedy_counts_against_other_kinds_on_the_same_order(
    app: App, clock: FixedClock, http: TestClient, agent: Person
) -> None:
    case_id = late_case(app, clock, total_minor=30_000)

    refund = created(propose(http, agent, case_id, "refund", amount_minor=24_000, reason="late"))
    credit = created(
        propose(http, agent, case_id, "store_credit", amount_minor=2000, reason="sorry")
    )

    assert refund["evaluation"]["required"] == ["approver"]
    # alone 2000 would be approved automatically; with the waiting 24_000 it is 26_000
    assert credit["status"] == "awaiting_approval"
    assert credit["evaluation"]["inputs"]["committed_minor"] == 24_000
    assert credit["evaluation"]["required"] == ["finance"]


def test_a_701_dollar_cancel_with_refund_needs_finance_like_a_701_dollar_refund(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    finance: Person,
) -> None:
    case_id = late_case(app, clock, total_minor=70_100)

    cancel = created(propose(http, agent, case_id, "cancel_order", reason="customer"))
    by_desk = http.post(f"/v1/actions/{cancel['id']}/approve", headers=approver.headers)
    queued_after_desk = refunds_queued(app)
    by_finance = http.post(f"/v1/actions/{cancel['id']}/approve", headers=finance.headers)

    assert cancel["status"] == "awaiting_approval"
    assert cancel["evaluation"]["required"] == ["finance"]
    assert cancel["evaluation"]["inputs"]["amount_minor"] == 70_100
    assert "finance" in problem(by_desk, 403, "approver-not-qualified")
    assert queued_after_desk == []
    assert by_finance.status_code == 200, by_finance.text
    assert by_finance.json()["status"] == "approved"
    assert refunds_queued(app) == [70_100]


def test_a_capture_is_judged_by_the_money_it_captures(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    case_id = late_case(app, clock, total_minor=70_100)
    order_ref = order_ref_of(http, agent, case_id)
    hold = payment(
        order_ref,
        status="authorized",
        at=clock.now() - timedelta(days=1),
        payment_ref=f"pi-hold-{order_ref}",
        amount_minor=70_100,
    )
    report = ingest_items(app.sessions, tenant_id="acme", items=[hold], channel="test", clock=clock)
    assert report.rejected == []

    capture = created(
        propose(http, agent, case_id, "capture_payment", payment_ref=f"pi-hold-{order_ref}")
    )
    again = propose(http, agent, case_id, "capture_payment", payment_ref=f"pi-hold-{order_ref}")
    by_desk = http.post(f"/v1/actions/{capture['id']}/approve", headers=approver.headers)

    assert capture["params"]["amount_minor"] == 70_100
    assert capture["evaluation"]["required"] == ["finance"]
    assert set(capture["evaluation"]["matched_rules"]) >= {"finance-over-250"}
    assert again.status_code == 409
    assert by_desk.status_code == 403


def without(kind: str) -> dict[str, Any]:
    body = copy.deepcopy(DEFAULT_POLICY.body())
    body["kinds"].pop(kind, None)
    return body


def test_a_policy_leaving_a_money_kind_without_a_rule_is_refused_when_stored(
    app: App, clock: FixedClock, http: TestClient
) -> None:
    admin = person(app, clock, tenant="acme", role=Role.ADMIN, name="ada-admin")

    no_cancel = http.put(
        "/v1/admin/approval-policy", json={"policy": without("cancel_order")}, headers=admin.headers
    )
    no_capture = http.put(
        "/v1/admin/approval-policy",
        json={"policy": without("capture_payment")},
        headers=admin.headers,
    )
    versions = http.get("/v1/admin/approval-policy/versions", headers=admin.headers).json()

    assert "kinds.cancel_order" in problem(no_cancel, 422, "invalid-approval-policy")
    assert "kinds.capture_payment" in problem(no_capture, 422, "invalid-approval-policy")
    assert [v["version"] for v in versions] == [0]


# -- a refund we delivered, before and after the provider reports it ----------------------


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


def stripe_paid_case(
    app: App, clock: FixedClock, sandboxes: Sandboxes, total: int
) -> tuple[str, str, str]:
    """A late order paid through the Stripe sandbox: (case id, order ref, payment intent)."""
    intent = sandboxes.stripe.add_payment_intent(amount=total, status="succeeded")
    order_ref = f"o-stripe-{intent}"
    placed = clock.now() - timedelta(days=10)
    items = [
        order_placed(
            order_ref, at=placed, promised_by=placed + timedelta(days=3), total_minor=total
        ),
        payment(
            order_ref,
            status="captured",
            at=placed + timedelta(hours=1),
            payment_ref=intent,
            amount_minor=total,
        ),
    ]
    assert (
        ingest_items(
            app.sessions, tenant_id="acme", items=items, channel="test", clock=clock
        ).rejected
        == []
    )
    (case_id,) = [
        c.case_id
        for c in sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)
        if c.order_ref == order_ref and c.exception_type == "shipment_late"
    ]
    return case_id, order_ref, intent


def test_a_delivered_refund_counts_once_before_and_after_the_provider_reports_it(
    app: App, clock: FixedClock, http: TestClient, agent: Person, sandboxes: Sandboxes
) -> None:
    case_id, order_ref, intent = stripe_paid_case(app, clock, sandboxes, 10_000)
    keep_waiting(http, agent, case_id)
    first = created(propose(http, agent, case_id, "refund", amount_minor=2500, reason="late"))
    drain(app, fast_runtime(sandboxes.settings(), clock), clock)
    delivered = [e.action for e in sandboxes.stripe.control.ledger.entries()]

    before_report = propose(http, agent, case_id, "refund", amount_minor=7501, reason="late")
    reported = envelope(
        "payment.updated",
        {
            "payment_ref": intent,
            "order_ref": order_ref,
            "provider": "stripe",
            "status": "partially_refunded",
            "amount_minor": 10_000,
            "amount_refunded_minor": 2500,
            "currency": "USD",
        },
        at=clock.now(),
        subject=order_ref,
        source="test://stripe",
    )
    report = ingest_items(
        app.sessions, tenant_id="acme", items=[reported], channel="test", clock=clock
    )
    after_report = propose(http, agent, case_id, "refund", amount_minor=7501, reason="late")
    rest = created(propose(http, agent, case_id, "refund", reason="late"))

    assert first["status"] == "approved"
    assert delivered.count("refund.created") == 1
    refused = problem(before_report, 409, "remedy-exceeds-order")
    assert "exceeds the 7500 still refundable" in refused
    assert report.rejected == []
    assert "exceeds the 7500 still refundable" in problem(after_report, 422, "invalid-action")
    assert rest["params"]["amount_minor"] == 7500
