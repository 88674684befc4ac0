"""An approved substitution runs as a saga: approved through the API, its steps (swap the line
in the warehouse, note it on the Shopify order, refund a cheaper substitute's difference,
tell the customer) delivered one after another to the sandboxes over HTTP. A failing step
undoes exactly the finished ones, newest first; the refund is the point of no return, so a
failure after it undoes nothing and waits for a retry. The refund is reserved on the
order's remedy ledger from the approval on, and let go when the saga is undone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_action_writeback import (  # the same orders, people and sandboxes as every kind
    OTHER_SKU,
    SKU,
    TOTAL,
    Shop,
    Story,
    decide,
    ledger_counts,
    open_order,
    outbox_of,
    people,
    reserve_original,
    sandboxes,
    served,
)

from builders.access import Person
from builders.writeback import Sandboxes, drain, fast_runtime
from orderops.bootstrap import App
from orderops.decide.action_context import context_for
from orderops.domain.clock import FixedClock
from orderops.sandbox import Fault, FaultKind
from orderops.storage.tables import CaseTimelineEntry
from orderops.storage.tables.writeback import WritebackSaga, WritebackSagaStep
from orderops.storage.uow import UnitOfWork

__all__ = ["people", "sandboxes", "served"]  # fixtures, used by name

CHEAPER = -500
STEPS = ["swap", "order_note", "refund", "notify"]


def story(difference: int, payment: str = "captured") -> Story:
    return Story(
        "substitute",
        lambda s: {
            "from_sku": SKU,
            "to_sku": OTHER_SKU,
            "quantity": 1,
            "price_difference_minor": difference,
        },
        {},
        payment=payment,
        ticket=True,
        prepare=reserve_original,
    )


def approved(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
    difference: int = CHEAPER,
    payment: str = "captured",
) -> tuple[Shop, dict[str, Any]]:
    runtime = fast_runtime(sandboxes.settings(), clock)
    told = story(difference, payment)
    shop = open_order(app, clock, sandboxes, runtime.connectors.for_tenant("acme"), told)
    runtime.close()
    agent, deciders = people
    return shop, decide(http, agent, deciders, shop, "substitute", told.params(shop))


def deliver(app: App, clock: FixedClock, sandboxes: Sandboxes) -> None:
    clock.advance(timedelta(minutes=5))
    drain(app, fast_runtime(sandboxes.settings(), clock), clock)


def saga_of(app: App, case_id: str) -> tuple[str, list[tuple[str, str]]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (saga,) = uow.session.scalars(select(WritebackSaga).where(WritebackSaga.case_id == case_id))
        steps = uow.session.scalars(
            select(WritebackSagaStep)
            .where(WritebackSagaStep.saga_id == saga.id)
            .order_by(WritebackSagaStep.position)
        )
        return saga.status, [(s.name, s.state) for s in steps]


def timeline(app: App, case_id: str, kind: str) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return list(
            uow.session.scalars(
                select(CaseTimelineEntry.summary)
                .where(CaseTimelineEntry.case_id == case_id, CaseTimelineEntry.kind == kind)
                .order_by(CaseTimelineEntry.id)
            )
        )


def held(sandboxes: Sandboxes, shop: Shop) -> dict[str, int]:
    """Per SKU, the quantity the warehouse holds for the order."""
    totals: dict[str, int] = {}
    for r in sandboxes.wms.reservations(str(shop.order_id)):
        if r["status"] == "active":
            totals[r["sku"]] = totals.get(r["sku"], 0) + r["quantity"]
    return totals


def committed_refund(app: App, shop: Shop) -> int:
    """What the remedy ledger holds of the order's payment for refunds of ours."""
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(shop.case_id)
        assert case is not None
        (payment,) = context_for(uow, case).payments
        return payment.committed_refund_minor


def refund_of_whole_order(http: TestClient, agent: Person, shop: Shop) -> Any:
    """Back at the desk (the failed case escalated), a refund of everything captured."""
    version = http.get(f"/v1/cases/{shop.case_id}", headers=agent.headers).json()["version"]
    moved = http.post(
        f"/v1/cases/{shop.case_id}/transitions",
        json={"move": "escalate", "reason": "the remedy did not go through", "version": version},
        headers=agent.headers,
    )
    assert moved.status_code == 200, moved.text
    return http.post(
        f"/v1/cases/{shop.case_id}/actions",
        json={"kind": "refund", "params": {"amount_minor": 4_000, "reason": "give it all back"}},
        headers=agent.headers,
    )


def test_a_cheaper_substitute_swaps_notes_refunds_the_difference_and_tells_the_customer(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
) -> None:
    shop, action = approved(app, clock, sandboxes, http, people)
    agent = people[0]
    assert [(m.system, m.operation) for m in outbox_of(app, action["id"])] == [
        ("wms", "substitute")
    ]
    # the refund is on the ledger from the approval, before any step is delivered
    assert committed_refund(app, shop) == -CHEAPER
    before = ledger_counts(sandboxes)

    deliver(app, clock, sandboxes)

    assert saga_of(app, shop.case_id) == ("completed", [(n, "done") for n in STEPS])
    after = ledger_counts(sandboxes)
    made = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert made == {
        ("wms", "substitution.created"): 1,
        ("shopify", "order.updated"): 1,
        ("stripe", "refund.created"): 1,
        ("zendesk", "ticket.updated"): 1,
    }
    (refund,) = sandboxes.stripe.control.ledger.entries("refund.created")
    assert refund.data["amount"] == -CHEAPER
    assert held(sandboxes, shop) == {SKU: 1, OTHER_SKU: 1}
    assert "Substituted 1 x SKU-1 with SKU-2" in (sandboxes.shopify.order(shop.order_id)["note"])
    keys = sorted(m.idempotency_key for m in outbox_of(app, action["id"]))
    assert keys == [f"{action['id']}:saga:{n}:{name}" for n, name in enumerate(STEPS, start=1)]
    assert http.get(f"/v1/actions/{action['id']}", headers=agent.headers).json()["status"] == (
        "executed"
    )
    assert http.get(f"/v1/cases/{shop.case_id}", headers=agent.headers).json()["status"] == (
        "resolved"
    )
    assert timeline(app, shop.case_id, "saga_step")[-1] == "substitution completed"

    deliver(app, clock, sandboxes)
    assert ledger_counts(sandboxes) == after


def test_a_cheaper_substitute_on_an_authorised_payment_captures_the_lower_total(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
) -> None:
    """Nothing is captured yet, so there is nothing to refund: the saga captures the hold
    less the difference (the provider releases the rest) and the whole hold is spoken for
    from the approval on, so no other capture can take the old total."""
    shop, action = approved(app, clock, sandboxes, http, people, payment="authorized")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(shop.case_id)
        assert case is not None
        (payment,) = context_for(uow, case).payments
    assert payment.committed_hold_minor == TOTAL
    assert payment.hold_available_minor == 0

    deliver(app, clock, sandboxes)

    assert saga_of(app, shop.case_id) == (
        "completed",
        [(n, "done") for n in ("swap", "order_note", "capture", "notify")],
    )
    assert sandboxes.stripe.control.ledger.entries("refund.created") == []
    intent = sandboxes.stripe.payment_intent(payment.payment_ref)
    assert (intent["status"], intent["amount_received"]) == ("succeeded", TOTAL + CHEAPER)
    (queued,) = [m.payload for m in outbox_of(app, action["id"]) if m.operation == "capture"]
    assert queued["amount_minor"] == TOTAL + CHEAPER


@pytest.mark.parametrize("difference", [0, 700])
def test_an_equal_or_dearer_substitute_moves_no_money_and_records_what_is_absorbed(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
    difference: int,
) -> None:
    shop, _ = approved(app, clock, sandboxes, http, people, difference)

    deliver(app, clock, sandboxes)

    assert saga_of(app, shop.case_id) == (
        "completed",
        [("swap", "done"), ("order_note", "done"), ("notify", "done")],
    )
    assert sandboxes.stripe.control.ledger.entries("refund.created") == []
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (entry,) = uow.session.scalars(
            select(CaseTimelineEntry).where(
                CaseTimelineEntry.case_id == shop.case_id,
                CaseTimelineEntry.kind == "action_approved",
            )
        )
        (queued,) = entry.data["effects"]
    assert queued["adjust_payment"] == {
        "refund_minor": 0,
        "captured_minor": None,
        "absorbed_minor": difference,
    }


FAULTS: dict[str, tuple[str, Fault]] = {
    "swap": ("wms", Fault(kind=FaultKind.VALIDATION, method="POST", path_contains="/v1/subst")),
    "order_note": (
        "shopify",
        Fault(kind=FaultKind.VALIDATION, method="PUT", path_contains="/orders/"),
    ),
    "refund": ("stripe", Fault(kind=FaultKind.VALIDATION, method="POST", path_contains="/refunds")),
}
UNDONE = {"swap": [], "order_note": ["swap"], "refund": ["order_note", "swap"]}


@pytest.mark.parametrize("failing", list(FAULTS))
def test_a_failing_step_before_the_refund_undoes_exactly_the_finished_ones(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
    failing: str,
) -> None:
    shop, action = approved(app, clock, sandboxes, http, people)
    agent = people[0]
    system, fault = FAULTS[failing]
    getattr(sandboxes, system).control.inject(fault)

    deliver(app, clock, sandboxes)

    at = STEPS.index(failing)
    assert saga_of(app, shop.case_id) == (
        "compensated",
        [
            *((name, "compensated") for name in STEPS[:at]),
            (failing, "failed"),
            *((name, "pending") for name in STEPS[at + 1 :]),
        ],
    )
    undone = UNDONE[failing]
    assert held(sandboxes, shop) == {SKU: 2}  # the original line is held again, in full
    assert len(sandboxes.wms.substitutions(str(shop.order_id))) == (
        2 if "swap" in undone else 0  # the swap and the swap back
    )
    note = sandboxes.shopify.order(shop.order_id)["note"] or ""
    assert ("Substitution called off" in note) == ("order_note" in undone)
    assert sandboxes.stripe.control.ledger.entries("refund.created") == []
    assert sandboxes.zendesk.control.ledger.entries("ticket.updated") == []
    assert http.get(f"/v1/actions/{action['id']}", headers=agent.headers).json()["status"] == (
        "failed"
    )
    assert http.get(f"/v1/cases/{shop.case_id}", headers=agent.headers).json()["status"] == (
        "failed"
    )
    (summary,) = timeline(app, shop.case_id, "action_failed")
    assert f"step {failing} failed: " in summary
    assert summary.endswith(f"; undone: {', '.join(undone) or 'nothing'})")
    steps = timeline(app, shop.case_id, "saga_step")
    assert [t for t in steps if t.endswith(": compensated")] == [
        f"substitution step {STEPS.index(name) + 1} {name}: compensated" for name in undone
    ]
    assert steps[-1] == "substitution compensated"
    # the undone substitution's refund no longer holds the payment's money
    assert committed_refund(app, shop) == 0
    sandboxes.stripe.control.faults.clear()
    again = refund_of_whole_order(http, agent, shop)
    assert again.status_code == 201, again.text


def test_a_failure_after_the_refund_undoes_nothing_and_a_retry_finishes_the_saga(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
) -> None:
    shop, action = approved(app, clock, sandboxes, http, people)
    agent = people[0]
    fault = Fault(kind=FaultKind.VALIDATION, method="PUT", path_contains="/api/v2/tickets/")
    sandboxes.zendesk.control.inject(fault)

    deliver(app, clock, sandboxes)

    assert saga_of(app, shop.case_id) == (
        "failed",
        [("swap", "done"), ("order_note", "done"), ("refund", "done"), ("notify", "failed")],
    )
    assert held(sandboxes, shop) == {SKU: 1, OTHER_SKU: 1}
    assert len(sandboxes.stripe.control.ledger.entries("refund.created")) == 1
    assert "Substitution called off" not in (sandboxes.shopify.order(shop.order_id)["note"])
    (summary,) = timeline(app, shop.case_id, "action_failed")
    assert "step notify failed: " in summary
    assert "undone: nothing, past refund, which cannot be undone" in summary
    # the delivered refund still counts on the ledger
    assert committed_refund(app, shop) == -CHEAPER
    refused = refund_of_whole_order(http, agent, shop)
    assert refused.status_code == 409, refused.text
    assert [r["action_id"] for r in refused.json()["remedies"]] == [action["id"]]

    sandboxes.zendesk.control.faults.clear()
    (notify,) = [m for m in outbox_of(app, action["id"]) if m.system == "zendesk"]
    retried = http.post(f"/v1/outbox/{notify.id}/retry", headers=people[1][-1].headers)
    assert retried.status_code == 200, retried.text
    deliver(app, clock, sandboxes)

    assert saga_of(app, shop.case_id) == ("completed", [(n, "done") for n in STEPS])
    assert http.get(f"/v1/actions/{action['id']}", headers=agent.headers).json()["status"] == (
        "executed"
    )
