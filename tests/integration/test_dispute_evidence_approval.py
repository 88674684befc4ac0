"""Dispute evidence packs are maker-checked like actions, and name the dispute by its id.

A chargeback arrives from Stripe as a fraud signal whose detail reads "id=du_..,
reason=.., status=.."; the pack, the queued submission and the request the Stripe
sandbox receives must all name the dispute ``du_..`` itself. Whoever assembled a pack
cannot approve it, and neither can a service key or an identity the assembler made.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person, late_case, person
from builders.events import envelope
from builders.writeback import Sandboxes, drain, fast_runtime, served_sandboxes
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.ingest.adapters.stripe import map_fraud_signal
from orderops.storage.tables import OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


@pytest.fixture
def maker(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.APPROVER, name="mia-maker")


@pytest.fixture
def checker(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.APPROVER, name="cho-checker")


def disputed_case(app: App, clock: FixedClock, signal: dict[str, Any]) -> str:
    """A late case whose order then receives the given Stripe dispute signal."""
    case_id = late_case(app, clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        order_ref = case.order_ref
    report = ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[
            envelope(
                "fraud.signal",
                {**signal, "order_ref": order_ref},
                at=clock.now() - timedelta(hours=2),
                subject=order_ref,
            )
        ],
        channel="test",
        clock=clock,
    )
    assert report.rejected == []
    return case_id


def stripe_dispute_signal(sandboxes: Sandboxes, dispute_id: str) -> dict[str, Any]:
    """What the Stripe adapter makes of the sandbox's dispute object."""
    signal = map_fraud_signal(sandboxes.stripe.dispute(dispute_id), "dispute")
    assert str(signal["detail"]).startswith(f"id={dispute_id}, ")
    return signal


def assemble(http: TestClient, who: Person, case_id: str) -> dict[str, Any]:
    response = http.post(f"/v1/cases/{case_id}/dispute-evidence", headers=who.headers, json={})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def queued(app: App) -> list[OutboxMessage]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = list(
            uow.session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.tenant_id == "acme",
                    OutboxMessage.operation == "submit_dispute_evidence",
                )
            )
        )
        uow.session.expunge_all()
        return rows


def test_the_stripe_dispute_id_reaches_the_sandbox_not_the_signal_detail(
    app: App,
    clock: FixedClock,
    http: TestClient,
    sandboxes: Sandboxes,
    maker: Person,
    checker: Person,
) -> None:
    intent = sandboxes.stripe.add_payment_intent(amount=5000)
    dispute_id = sandboxes.stripe.add_dispute(
        payment_intent=intent, amount=5000, reason="fraudulent"
    )
    case_id = disputed_case(app, clock, stripe_dispute_signal(sandboxes, dispute_id))

    pack = assemble(http, maker, case_id)
    approved = http.post(f"/v1/dispute-evidence/{pack['id']}/approve", headers=checker.headers)
    assert approved.status_code == 200, approved.text
    (message,) = queued(app)
    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    assert pack["dispute_ref"] == dispute_id
    assert message.payload["dispute_id"] == dispute_id
    assert message.idempotency_key == f"dispute-evidence:{dispute_id}"
    (submitted,) = sandboxes.stripe.control.ledger.entries("dispute.evidence_submitted")
    assert submitted.target == dispute_id
    assert sandboxes.stripe.dispute(dispute_id)["status"] == "under_review"


def test_a_dispute_signal_naming_no_dispute_id_cannot_be_assembled_into_a_pack(
    app: App, clock: FixedClock, http: TestClient, maker: Person
) -> None:
    case_id = disputed_case(
        app, clock, {"kind": "dispute", "detail": "reason=fraudulent, status=needs_response"}
    )

    response = http.post(f"/v1/cases/{case_id}/dispute-evidence", headers=maker.headers, json={})

    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("/no-dispute")
    assert "no Stripe dispute id" in response.json()["detail"]


def test_whoever_assembled_the_pack_cannot_approve_its_submission(
    app: App, clock: FixedClock, http: TestClient, maker: Person, checker: Person
) -> None:
    case_id = disputed_case(app, clock, {"kind": "dispute", "detail": "id=dp_123, reason=x"})
    pack = assemble(http, maker, case_id)

    own = http.post(f"/v1/dispute-evidence/{pack['id']}/approve", headers=maker.headers)

    assert own.status_code == 403, own.text
    assert own.json()["type"].endswith("/self-approval")
    assert queued(app) == []
    other = http.post(f"/v1/dispute-evidence/{pack['id']}/approve", headers=checker.headers)
    assert other.status_code == 200, other.text
    assert other.json()["approved_by"] == checker.principal.subject
    assert other.json()["assembled_by"] == maker.principal.subject
    assert [m.payload["dispute_id"] for m in queued(app)] == ["dp_123"]


def test_an_identity_the_assembler_created_cannot_approve_the_pack(
    app: App, clock: FixedClock, http: TestClient
) -> None:
    admin = person(app, clock, tenant="acme", role=Role.ADMIN, name="ada-admin")
    created = http.post(
        "/v1/admin/users",
        json={"display_name": "Puppet", "role": "approver", "email": "p@acme.example"},
        headers=admin.headers,
    ).json()
    secret = http.post(
        f"/v1/admin/users/{created['id']}/keys", json={"name": "p"}, headers=admin.headers
    ).json()["secret"]
    case_id = disputed_case(app, clock, {"kind": "dispute", "detail": "dp_456"})
    pack = assemble(http, admin, case_id)

    refused = http.post(
        f"/v1/dispute-evidence/{pack['id']}/approve",
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert refused.status_code == 403, refused.text
    assert f"created by user:{admin.user_id}" in refused.json()["detail"]
    assert queued(app) == []
