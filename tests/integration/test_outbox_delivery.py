"""The outbox worker against the vendor sandboxes over HTTP: one effect, whatever fails.

The sandboxes' ledgers are the truth: "exactly one refund" is counted there, not in what
the worker was told. Time is a fixed clock moved on between passes, so retry schedules
are exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from builders.writeback import Sandboxes, drain, fast_runtime, make_case, served_sandboxes
from conftest import T0
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.sandbox import Fault, FaultKind
from orderops.sandbox.stripe import StripeSandbox
from orderops.storage.tables import AuditRecord, CaseTimelineEntry, OutboxMessage
from orderops.storage.tables.writeback import WritebackAttempt
from orderops.storage.uow import UnitOfWork
from orderops.workflow.writeback_worker import WritebackRuntime, run_writeback_once
from orderops.writeback.claims import claim_due
from orderops.writeback.outbox import enqueue


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


def queue(app: App, clock: FixedClock, **fields: Any) -> str:
    with UnitOfWork(app.sessions, tenant_id=fields.pop("tenant_id", "acme")) as uow:
        message_id = enqueue(uow, now=clock.now(), **fields)
        uow.commit()
    return message_id


def message(app: App, message_id: str) -> OutboxMessage:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row is not None
        uow.session.expunge(row)
        return row


def attempts(app: App, message_id: str) -> list[WritebackAttempt]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = list(
            uow.session.scalars(
                select(WritebackAttempt)
                .where(WritebackAttempt.message_id == message_id)
                .order_by(WritebackAttempt.number)
            )
        )
        uow.session.expunge_all()
        return rows


def audit_actions(app: App, message_id: str) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return [
            r.action
            for r in uow.session.scalars(
                select(AuditRecord)
                .where(AuditRecord.entity_id == message_id)
                .order_by(AuditRecord.seq)
            )
        ]


@dataclass(frozen=True)
class Effect:
    """One kind of writeback: how to seed the vendor, queue it, and count its effect."""

    name: str
    write_path: str

    def seed_and_queue(self, app: App, clock: FixedClock, box: Sandboxes, key: str) -> str:
        if self.name == "stripe.refund":
            intent = box.stripe.add_payment_intent(amount=5000)
            payload: dict[str, Any] = {"payment_intent": intent, "amount_minor": 1200}
        elif self.name == "shopify.refund":
            order_id, _ = box.shopify.add_order(total_price="80.00")
            payload = {"order_id": order_id, "amount": "25.00", "note": "damaged"}
        elif self.name == "shopify.add_note":
            order_id, _ = box.shopify.add_order()
            payload = {"order_id": order_id, "text": "refund approved"}
        elif self.name == "wms.reserve":
            box.wms.set_stock("SKU-9", 10)
            payload = {"order_id": "o-9", "sku": "SKU-9", "quantity": 2}
        elif self.name == "crm.add_note":
            customer = box.crm.add_customer(email="ana@example.com")
            payload = {"customer_id": customer, "body": "called about the delay"}
        else:
            payload = {"ticket_id": open_ticket(box), "comment": "refund on its way"}
        system, _, operation = self.name.partition(".")
        return queue(
            app, clock, system=system, operation=operation, idempotency_key=key, payload=payload
        )

    def count(self, box: Sandboxes) -> int:
        ledgers = {
            "stripe.refund": (box.stripe.control.ledger, "refund.created"),
            "shopify.refund": (box.shopify.control.ledger, "refund.created"),
            "shopify.add_note": (box.shopify.control.ledger, "order.updated"),
            "wms.reserve": (box.wms.control.ledger, "reservation.created"),
            "crm.add_note": (box.crm.control.ledger, "note.created"),
            "zendesk.add_comment": (box.zendesk.control.ledger, "ticket.updated"),
        }
        ledger, action = ledgers[self.name]
        return len(ledger.entries(action))


EFFECTS = [
    Effect("stripe.refund", "/v1/refunds"),
    Effect("shopify.refund", "/refunds.json"),
    Effect("shopify.add_note", "/orders/"),
    Effect("wms.reserve", "/v1/reservations"),
    Effect("crm.add_note", "/notes"),
    Effect("zendesk.add_comment", "/api/v2/tickets/"),
]
WRITE_METHODS = {"shopify.add_note": "PUT", "zendesk.add_comment": "PUT"}
TRANSIENT = [k for k in FaultKind if k is not FaultKind.VALIDATION]


def open_ticket(box: Sandboxes) -> int:
    runtime = fast_runtime(box.settings(), FixedClock(T0))
    ticket = (
        runtime.connectors.for_tenant("acme")
        .zendesk()
        .create_ticket(
            subject="Where is my parcel?",
            body="It has not arrived.",
            requester_email="ana@example.com",
            idempotency_key="seed-ticket",
        )
    )
    runtime.close()
    return ticket.id


def inject(box: Sandboxes, effect: Effect, fault: FaultKind, *, count: int) -> None:
    vendor = getattr(box, effect.name.partition(".")[0])
    vendor.control.inject(
        Fault(
            kind=fault,
            count=count,
            retry_after=0.0,
            delay=0.05,
            method=WRITE_METHODS.get(effect.name, "POST"),
            path_contains=effect.write_path,
        )
    )


@pytest.mark.parametrize("fault", TRANSIENT, ids=str)
def test_every_transient_fault_ends_in_exactly_one_effect_per_message(
    app: App, clock: FixedClock, sandboxes: Sandboxes, fault: FaultKind
) -> None:
    queued = {e.name: e.seed_and_queue(app, clock, sandboxes, key=f"k-{e.name}") for e in EFFECTS}
    for effect in EFFECTS:
        inject(sandboxes, effect, fault, count=3)

    drain(app, fast_runtime(sandboxes.settings(), clock), clock)
    for system in ("stripe", "shopify", "wms", "crm", "zendesk"):
        getattr(sandboxes, system).control.wait_idle()

    for effect in EFFECTS:
        delivered = message(app, queued[effect.name])
        assert (effect.name, delivered.status, effect.count(sandboxes)) == (
            effect.name,
            "delivered",
            1,
        )
        assert delivered.result is not None
        history = attempts(app, delivered.id)
        assert [a.number for a in history] == list(range(1, len(history) + 1))
        assert history[-1].outcome == "delivered"
        assert audit_actions(app, delivered.id) == ["writeback.queued", "writeback.delivered"]


def test_a_validation_error_dead_letters_without_an_effect(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    queued = {e.name: e.seed_and_queue(app, clock, sandboxes, key=f"k-{e.name}") for e in EFFECTS}
    for effect in EFFECTS:
        inject(sandboxes, effect, FaultKind.VALIDATION, count=1)

    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    for effect in EFFECTS:
        failed = message(app, queued[effect.name])
        assert (effect.name, failed.status, effect.count(sandboxes), failed.attempts) == (
            effect.name,
            "failed",
            0,
            1,
        )
        assert (failed.dead_letter_reason or "").startswith("permanent error")
        assert attempts(app, failed.id)[0].response_status == 422
        assert audit_actions(app, failed.id) == ["writeback.queued", "writeback.failed"]


def test_a_long_retry_after_reschedules_the_message_no_earlier_than_asked(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    message_id = EFFECTS[0].seed_and_queue(app, clock, sandboxes, key="k-slow-down")
    sandboxes.stripe.control.inject(
        Fault(kind=FaultKind.RATE_LIMIT, retry_after=600.0, method="POST")
    )
    runtime = fast_runtime(sandboxes.settings(), clock)
    started = clock.now()

    run_writeback_once(app, worker_id="w-1", runtime=runtime)

    waiting = message(app, message_id)
    assert waiting.status == "pending"
    assert waiting.next_attempt_at >= started + timedelta(seconds=600)
    assert run_writeback_once(app, worker_id="w-1", runtime=runtime) == 0
    clock.advance(timedelta(seconds=601))
    assert run_writeback_once(app, worker_id="w-1", runtime=runtime) == 1
    assert message(app, message_id).status == "delivered"


def test_retries_give_up_after_the_last_attempt_with_a_dead_letter_reason(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    message_id = EFFECTS[0].seed_and_queue(app, clock, sandboxes, key="k-down")
    sandboxes.stripe.control.inject(Fault(kind=FaultKind.SERVER_ERROR, count=1000))
    runtime = fast_runtime(sandboxes.settings(), clock)

    drain(app, runtime, clock)

    failed = message(app, message_id)
    assert (failed.status, failed.attempts) == ("failed", runtime.policy.max_attempts)
    assert failed.dead_letter_reason is not None
    assert "gave up after 6 attempts" in failed.dead_letter_reason
    assert [a.outcome for a in attempts(app, message_id)] == ["retry"] * 5 + ["failed"]


def test_an_order_cancelled_before_delivery_is_a_conflict_sent_back_to_the_case(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    case_id = make_case(app, clock, order_ref="o-77")
    order_id, _ = sandboxes.shopify.add_order(total_price="60.00")
    message_id = queue(
        app,
        clock,
        system="shopify",
        operation="refund",
        idempotency_key="k-refund-cancelled",
        payload={"order_id": order_id, "amount": "60.00", "expect": {"cancelled": False}},
        case_id=case_id,
        order_ref="o-77",
    )
    runtime = fast_runtime(sandboxes.settings(), clock)
    runtime.connectors.for_tenant("acme").shopify().cancel_order(
        order_id=order_id, idempotency_key="someone-else"
    )

    drain(app, runtime, clock)

    conflicted = message(app, message_id)
    assert conflicted.status == "conflict"
    assert conflicted.conflict == {
        "differences": [{"fact": "cancelled", "expected": False, "actual": True}]
    }
    assert sandboxes.shopify.control.ledger.entries("refund.created") == []
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        entries = [
            (e.kind, e.data["outbox_id"])
            for e in uow.session.scalars(
                select(CaseTimelineEntry).where(CaseTimelineEntry.case_id == case_id)
            )
        ]
        case = uow.cases.get(case_id)
        assert case is not None
        assert case.status == "executing"
    assert entries == [("writeback_conflict", message_id)]
    assert audit_actions(app, message_id) == ["writeback.queued", "writeback.conflict"]


def test_a_refund_made_by_hand_since_the_decision_is_a_conflict_in_stripe(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    intent = sandboxes.stripe.add_payment_intent(amount=3000)
    message_id = queue(
        app,
        clock,
        system="stripe",
        operation="refund",
        idempotency_key="k-by-hand",
        payload={"payment_intent": intent, "amount_minor": 3000},
    )
    runtime = fast_runtime(sandboxes.settings(), clock)
    runtime.connectors.for_tenant("acme").stripe().refund(
        payment_intent=intent, amount_minor=500, idempotency_key="dashboard"
    )

    drain(app, runtime, clock)

    conflicted = message(app, message_id)
    assert conflicted.status == "conflict"
    facts = {d["fact"]: d["actual"] for d in (conflicted.conflict or {})["differences"]}
    assert facts == {"refunded_minor": 500, "refundable_minor": 2500}
    assert len(sandboxes.stripe.control.ledger.entries("refund.created")) == 1


def _claim_and_refund_then_die(app: App, clock: FixedClock, runtime: WritebackRuntime) -> None:
    """A worker claims the refund and Stripe makes it; the worker dies before recording."""
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        (claimed,) = claim_due(
            uow,
            worker_id="dies",
            now=clock.now(),
            lease=runtime.policy.lease,
            limit=5,
            systems=["stripe"],
            summarise=lambda row: {},
        )
        uow.commit()
    runtime.connectors.for_tenant("acme").stripe().refund(
        payment_intent=claimed.payload["payment_intent"],
        amount_minor=claimed.payload["amount_minor"],
        idempotency_key=claimed.idempotency_key,
        metadata={"orderops_key": claimed.idempotency_key},
    )


def test_a_crash_after_the_write_is_finished_by_the_next_worker_without_a_second_refund(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    message_id = EFFECTS[0].seed_and_queue(app, clock, sandboxes, key="k-crash")
    runtime = fast_runtime(sandboxes.settings(), clock)
    _claim_and_refund_then_die(app, clock, runtime)
    assert run_writeback_once(app, worker_id="w-2", runtime=runtime) == 0  # lease still held

    clock.advance(runtime.policy.lease)
    assert run_writeback_once(app, worker_id="w-2", runtime=runtime) == 1

    finished = message(app, message_id)
    assert (finished.status, (finished.result or {}).get("found_earlier")) == ("delivered", True)
    assert len(sandboxes.stripe.control.ledger.entries("refund.created")) == 1
    assert sandboxes.stripe.control.requests().count(("POST", "/v1/refunds")) == 1
    assert [(a.worker_id, a.outcome) for a in attempts(app, message_id)] == [
        ("dies", "abandoned"),
        ("w-2", "delivered"),
    ]


def writes(box: Sandboxes, effect: Effect, requests: list[tuple[str, str]]) -> list[int]:
    """Positions of the effect's writes among a vendor's requests."""
    method = WRITE_METHODS.get(effect.name, "POST")
    return [i for i, (m, path) in enumerate(requests) if m == method and effect.write_path in path]


def test_a_first_stripe_refund_reads_the_facts_once_and_writes_once(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    message_id = EFFECTS[0].seed_and_queue(app, clock, sandboxes, key="k-first")
    intent = message(app, message_id).payload["payment_intent"]

    run_writeback_once(app, worker_id="w-1", runtime=fast_runtime(sandboxes.settings(), clock))

    assert sandboxes.stripe.control.requests() == [
        ("GET", f"/v1/payment_intents/{intent}"),
        ("POST", "/v1/refunds"),
    ]
    delivered = message(app, message_id)
    assert (delivered.status, (delivered.result or {}).get("status")) == ("delivered", "succeeded")
    assert EFFECTS[0].count(sandboxes) == 1


@pytest.mark.parametrize("effect", EFFECTS, ids=lambda e: e.name)
def test_a_first_attempt_ends_with_its_one_write_whose_answer_confirms_it(
    app: App, clock: FixedClock, sandboxes: Sandboxes, effect: Effect
) -> None:
    message_id = effect.seed_and_queue(app, clock, sandboxes, key=f"k-once-{effect.name}")
    control = getattr(sandboxes, effect.name.partition(".")[0]).control
    before = len(control.requests())

    run_writeback_once(app, worker_id="w-1", runtime=fast_runtime(sandboxes.settings(), clock))

    requests = control.requests()[before:]
    assert writes(sandboxes, effect, requests) == [len(requests) - 1], requests
    assert message(app, message_id).status == "delivered"
    assert effect.count(sandboxes) == 1


def test_a_retried_refund_finds_its_own_refund_and_does_not_refund_twice(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    message_id = EFFECTS[0].seed_and_queue(app, clock, sandboxes, key="k-lost-answers")
    sandboxes.stripe.control.inject(  # both tries of the first attempt land, neither answers
        Fault(kind=FaultKind.CRASH_AFTER_EFFECT, count=2, method="POST", path_contains="/refunds")
    )

    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    delivered = message(app, message_id)
    assert (delivered.status, (delivered.result or {}).get("found_earlier")) == ("delivered", True)
    assert [a.outcome for a in attempts(app, message_id)] == ["retry", "delivered"]
    intent = delivered.payload["payment_intent"]
    assert sandboxes.stripe.control.requests() == [
        ("GET", f"/v1/payment_intents/{intent}"),  # first attempt: the facts,
        ("POST", "/v1/refunds"),  # and two tries of the write, whose answers are lost
        ("POST", "/v1/refunds"),
        ("GET", "/v1/refunds"),  # second attempt: ours is found, so no write,
        ("GET", "/v1/refunds"),  # and it is read back
    ]
    assert EFFECTS[0].count(sandboxes) == 1


def test_a_refund_that_reached_stripe_unrecorded_is_not_sent_again_after_its_key_expired(
    app: App, clock: FixedClock, sandboxes: Sandboxes
) -> None:
    stripe = StripeSandbox(clock=clock)  # keys kept 24 h by this clock, as Stripe keeps them
    sandboxes.stripe, sandboxes.slots["stripe"].app = stripe, stripe.app
    message_id = EFFECTS[0].seed_and_queue(app, clock, sandboxes, key="k-stale")
    runtime = fast_runtime(sandboxes.settings(), clock)
    # the worker's refund lands, then the worker dies before recording anything
    _claim_and_refund_then_die(app, clock, runtime)
    clock.advance(timedelta(hours=25))  # the lease is long gone, and so is Stripe's key

    assert run_writeback_once(app, worker_id="w-2", runtime=runtime) == 1

    finished = message(app, message_id)
    assert (finished.status, (finished.result or {}).get("found_earlier")) == ("delivered", True)
    assert len(stripe.control.ledger.entries("refund.created")) == 1
    assert stripe.control.requests().count(("POST", "/v1/refunds")) == 1
