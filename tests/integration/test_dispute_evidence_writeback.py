"""Dispute evidence written back to Stripe: an approved pack reaches the dispute once.

The sandbox ledger is the truth: "submitted once" is counted there, not in what the
connector or the worker was told.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from builders.access import late_case, person
from builders.events import envelope
from builders.writeback import Sandboxes, drain, fast_runtime, served_sandboxes
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.recommend import disputes
from orderops.recommend.store_facts import case_facts
from orderops.sandbox import Fault, FaultKind
from orderops.storage.tables import OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.writeback.connectors.base import RetryPolicy
from orderops.writeback.connectors.stripe import StripeConnector
from orderops.writeback.connectors.transport import ConnectorOptions

FAST = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0, jitter=0.0)
POLICY = "Refunds within 30 days of delivery."


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


def submissions(sandboxes: Sandboxes) -> list[str]:
    return [e.target for e in sandboxes.stripe.control.ledger.entries("dispute.evidence_submitted")]


def approved_pack(app: App, clock: FixedClock, dispute_id: str) -> str:
    """A late case with a chargeback signal; its evidence pack assembled and approved."""
    checker = person(app, clock, tenant="acme", role=Role.APPROVER)
    case_id = late_case(app, clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        order_ref = case.order_ref
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[
            envelope(
                "fraud.signal",
                {"order_ref": order_ref, "kind": "dispute", "detail": dispute_id},
                at=clock.now() - timedelta(hours=2),
                subject=order_ref,
            )
        ],
        channel="test",
        clock=clock,
    )
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        facts = case_facts(uow, case, now=clock.now())
        pack = disputes.assemble(
            uow, facts, refund_policy=POLICY, approvals=[], now=clock.now(), actor="user:maker"
        )
        pack = disputes.approve(uow, pack.id, principal=checker.principal, now=clock.now())
        outbox_id = pack.outbox_id
        uow.commit()
    assert outbox_id is not None
    return outbox_id


def outbox_row(app: App, message_id: str) -> OutboxMessage:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row is not None
        uow.session.expunge(row)
        return row


@pytest.mark.parametrize("kind", [FaultKind.CRASH_AFTER_EFFECT, FaultKind.DROP_AFTER_EFFECT])
def test_connector_submits_once_when_the_first_answer_is_lost(
    sandboxes: Sandboxes, kind: FaultKind
) -> None:
    intent = sandboxes.stripe.add_payment_intent(amount=4200)
    dispute_id = sandboxes.stripe.add_dispute(
        payment_intent=intent, amount=4200, reason="product_not_received"
    )
    sandboxes.stripe.control.inject(Fault(kind=kind))
    waits: list[float] = []
    options = ConnectorOptions(tenant_id="t-1", retry=FAST, sleep=waits.append)

    with StripeConnector(
        base_url=sandboxes.urls["stripe"], api_key=sandboxes.stripe.api_key, options=options
    ) as stripe:
        submitted = stripe.submit_dispute_evidence(
            dispute_id=dispute_id,
            evidence={"customer_name": "Ana Lopez", "shipping_tracking_number": "1Z999"},
            idempotency_key="dispute-evidence:1",
        )
        read = stripe.get_dispute(dispute_id)

    assert len(waits) == 1
    assert submitted.replayed is True
    assert submissions(sandboxes) == [dispute_id]
    assert (read.status, read.submission_count) == ("under_review", 1)
    assert read.evidence == {"customer_name": "Ana Lopez", "shipping_tracking_number": "1Z999"}


def test_an_approved_pack_is_delivered_by_the_worker_and_the_dispute_goes_to_review(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    intent = sandboxes.stripe.add_payment_intent(amount=5000)
    dispute_id = sandboxes.stripe.add_dispute(
        payment_intent=intent, amount=5000, reason="product_not_received"
    )
    message_id = approved_pack(app, clock, dispute_id)

    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    row = outbox_row(app, message_id)
    dispute = sandboxes.stripe.dispute(dispute_id)
    assert (row.status, (row.result or {}).get("status")) == ("delivered", "under_review")
    assert submissions(sandboxes) == [dispute_id]
    assert dispute["evidence_details"]["submission_count"] == 1
    assert dispute["evidence"]["customer_email_address"].endswith("@example.com")
    assert "orderops-document:" not in "".join(dispute["evidence"].values())
    assert POLICY in dispute["evidence"]["uncategorized_text"]
    assert dispute["metadata"]["orderops_key"] == f"dispute-evidence:{dispute_id}"


def test_a_submission_already_made_by_us_is_found_not_repeated(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    intent = sandboxes.stripe.add_payment_intent(amount=5000)
    dispute_id = sandboxes.stripe.add_dispute(payment_intent=intent, amount=5000)
    message_id = approved_pack(app, clock, dispute_id)
    options = ConnectorOptions(tenant_id="acme", retry=FAST, sleep=lambda _s: None)
    with StripeConnector(
        base_url=sandboxes.urls["stripe"], api_key=sandboxes.stripe.api_key, options=options
    ) as stripe:
        stripe.submit_dispute_evidence(  # a worker that wrote, then died before recording it
            dispute_id=dispute_id,
            evidence={"customer_name": "Ana Lopez"},
            idempotency_key="earlier-process-key",
            metadata={"orderops_key": f"dispute-evidence:{dispute_id}"},
        )

    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    row = outbox_row(app, message_id)
    assert (row.status, (row.result or {}).get("found_earlier")) == ("delivered", True)
    assert submissions(sandboxes) == [dispute_id]


@pytest.mark.parametrize("status", ["lost", "won", "under_review"])
def test_a_dispute_that_no_longer_takes_evidence_is_a_conflict(
    app: App, clock: FixedClock, sandboxes: Sandboxes, status: str
) -> None:
    intent = sandboxes.stripe.add_payment_intent(amount=5000)
    dispute_id = sandboxes.stripe.add_dispute(payment_intent=intent, amount=5000, status=status)
    message_id = approved_pack(app, clock, dispute_id)

    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    row = outbox_row(app, message_id)
    assert row.status == "conflict"
    assert status in (row.last_error or "")
    assert submissions(sandboxes) == []
    assert sandboxes.stripe.dispute(dispute_id)["status"] == status
