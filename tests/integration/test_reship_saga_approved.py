"""An approved reship runs as a saga: approved through the API, its steps delivered one after
another by the writeback worker to the sandboxes over HTTP; when a step fails, the finished
ones are undone newest first, the action fails naming the step and what was undone, and the
case's timeline shows every step.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_action_writeback import (  # the same orders, people and sandboxes as every kind
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
from orderops.decide.remedy_ledger import earlier_remedies
from orderops.domain.clock import FixedClock
from orderops.sandbox import Fault, FaultKind
from orderops.storage.tables import CaseTimelineEntry
from orderops.storage.tables.writeback import WritebackSaga, WritebackSagaStep
from orderops.storage.uow import UnitOfWork

__all__ = ["people", "sandboxes", "served"]  # fixtures, used by name

SKU = "SKU-1"
RESHIP = Story(
    "reship",
    lambda s: {"lines": [{"sku": SKU, "quantity": 1}], "reason": "arrived broken"},
    {},
    ticket=True,
)
STEPS = ["reserve", "label", "shop_note", "notify"]


def approved_reship(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
    story: Story = RESHIP,
) -> tuple[Shop, dict[str, Any]]:
    runtime = fast_runtime(sandboxes.settings(), clock)
    shop = open_order(app, clock, sandboxes, runtime.connectors.for_tenant("acme"), story)
    runtime.close()
    agent, deciders = people
    action = decide(http, agent, deciders, shop, "reship", story.params(shop))
    return shop, action


def deliver(app: App, clock: FixedClock, sandboxes: Sandboxes) -> None:
    clock.advance(timedelta(minutes=5))
    drain(app, fast_runtime(sandboxes.settings(), clock), clock)


def saga_of(app: App, case_id: str) -> tuple[str, list[tuple[str, str]]]:
    """The case's one saga: its status and each step's state."""
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (saga,) = uow.session.scalars(select(WritebackSaga).where(WritebackSaga.case_id == case_id))
        steps = list(
            uow.session.scalars(
                select(WritebackSagaStep)
                .where(WritebackSagaStep.saga_id == saga.id)
                .order_by(WritebackSagaStep.position)
            )
        )
        return saga.status, [(s.name, s.state) for s in steps]


def step_timeline(app: App, case_id: str) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return [
            e.summary
            for e in uow.session.scalars(
                select(CaseTimelineEntry)
                .where(CaseTimelineEntry.case_id == case_id, CaseTimelineEntry.kind == "saga_step")
                .order_by(CaseTimelineEntry.id)
            )
        ]


def test_an_approved_reship_delivers_every_step_in_order_and_executes_the_action(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
) -> None:
    shop, action = approved_reship(app, clock, sandboxes, http, people)
    queued = outbox_of(app, action["id"])
    assert [(m.system, m.operation) for m in queued] == [("wms", "reserve_lines")]
    before = ledger_counts(sandboxes)

    deliver(app, clock, sandboxes)

    assert saga_of(app, shop.case_id) == ("completed", [(name, "done") for name in STEPS])
    rows = sorted(outbox_of(app, action["id"]), key=lambda m: m.created_at)
    assert [m.idempotency_key for m in sorted(rows, key=lambda m: m.idempotency_key)] == [
        f"{action['id']}:saga:{n}:{name}" for n, name in enumerate(STEPS, start=1)
    ]
    assert {m.status for m in rows} == {"delivered"}
    assert {m.order_ref for m in rows} == {str(shop.order_id)}
    after = ledger_counts(sandboxes)
    made = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert made == {
        ("wms", "reservation.created"): 1,
        ("easypost", "shipment.created"): 1,
        ("easypost", "shipment.bought"): 1,
        ("shopify", "order.updated"): 1,
        ("zendesk", "ticket.updated"): 1,
    }
    (bought,) = sandboxes.easypost.control.ledger.entries("shipment.bought")
    assert bought.data["tracking_code"] in sandboxes.shopify.order(shop.order_id)["note"]
    agent = people[0]
    done = http.get(f"/v1/actions/{action['id']}", headers=agent.headers).json()
    assert done["status"] == "executed"
    case = http.get(f"/v1/cases/{shop.case_id}", headers=agent.headers).json()
    assert case["status"] == "resolved"
    timeline = step_timeline(app, shop.case_id)
    assert [t for t in timeline if t.endswith(": done")] == [
        f"reship step {n} {name}: done" for n, name in enumerate(STEPS, start=1)
    ]
    assert timeline[-1] == "reship completed"
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (remedy,) = earlier_remedies(uow, str(shop.order_id))
    assert (remedy.action_id, remedy.kind) == (action["id"], "reship")

    deliver(app, clock, sandboxes)
    assert ledger_counts(sandboxes) == after


FAULTS: dict[str, tuple[str, Fault]] = {
    "reserve": ("wms", Fault(kind=FaultKind.VALIDATION, method="POST", path_contains="/v1/reserv")),
    "label": ("easypost", Fault(kind=FaultKind.VALIDATION, method="POST", path_contains="/buy")),
    "shop_note": (
        "shopify",
        Fault(kind=FaultKind.VALIDATION, method="PUT", path_contains="/orders/"),
    ),
    "notify": (
        "zendesk",
        Fault(kind=FaultKind.VALIDATION, method="PUT", path_contains="/api/v2/tickets/"),
    ),
}
UNDONE = {"reserve": [], "label": ["reserve"], "shop_note": ["label", "reserve"]}
UNDONE["notify"] = ["shop_note", "label", "reserve"]


@pytest.mark.parametrize("failing", STEPS)
def test_a_failing_step_undoes_the_finished_ones_and_fails_the_action_saying_so(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
    failing: str,
) -> None:
    shop, action = approved_reship(app, clock, sandboxes, http, people)
    system, fault = FAULTS[failing]
    getattr(sandboxes, system).control.inject(fault)

    deliver(app, clock, sandboxes)

    at = STEPS.index(failing)
    status, steps = saga_of(app, shop.case_id)
    assert status == "compensated"
    assert steps == [
        *((name, "compensated") for name in STEPS[:at]),
        (failing, "failed"),
        *((name, "pending") for name in STEPS[at + 1 :]),
    ]
    undone = UNDONE[failing]
    reservations = sandboxes.wms.reservations(str(shop.order_id))
    assert [r["status"] for r in reservations] == ([] if failing == "reserve" else ["released"])
    refunded = sandboxes.easypost.control.ledger.entries("shipment.refunded")
    assert len(refunded) == (1 if "label" in undone else 0)
    note = sandboxes.shopify.order(shop.order_id)["note"] or ""
    assert ("Replacement called off" in note) == ("shop_note" in undone)
    assert sandboxes.zendesk.control.ledger.entries("ticket.updated") == []

    agent = people[0]
    failed = http.get(f"/v1/actions/{action['id']}", headers=agent.headers).json()
    assert failed["status"] == "failed"
    case = http.get(f"/v1/cases/{shop.case_id}", headers=agent.headers).json()
    assert case["status"] == "failed"
    expected = f"step {failing} failed: "
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (summary,) = uow.session.scalars(
            select(CaseTimelineEntry.summary).where(
                CaseTimelineEntry.case_id == shop.case_id,
                CaseTimelineEntry.kind == "action_failed",
            )
        )
    assert expected in summary
    assert summary.endswith(f"; undone: {', '.join(undone) or 'nothing'})")
    timeline = step_timeline(app, shop.case_id)
    assert f"reship step {at + 1} {failing}: failed" in timeline
    assert [t for t in timeline if t.endswith(": compensated")] == [
        f"reship step {STEPS.index(name) + 1} {name}: compensated" for name in undone
    ]
    assert timeline[-1] == "reship compensated"


def test_approving_the_same_reship_twice_is_refused_and_starts_one_saga(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
) -> None:
    shop, action = approved_reship(app, clock, sandboxes, http, people)
    for who in people[1]:
        again = http.post(f"/v1/actions/{action['id']}/approve", headers=who.headers)
        assert again.status_code == 409, again.text

    deliver(app, clock, sandboxes)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        sagas = list(
            uow.session.scalars(select(WritebackSaga).where(WritebackSaga.case_id == shop.case_id))
        )
    assert len(sagas) == 1
    assert len(sandboxes.wms.reservations(str(shop.order_id))) == 1
    assert len(sandboxes.easypost.control.ledger.entries("shipment.bought")) == 1


LABEL_FAILS = FAULTS["label"][1]


def test_undoing_a_reship_releases_its_own_reservation_and_not_the_orders_other_one(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
) -> None:
    held_before = Story(RESHIP.kind, RESHIP.params, {}, ticket=True, prepare=reserve_original)
    shop, _ = approved_reship(app, clock, sandboxes, http, people, held_before)
    (original,) = sandboxes.wms.reservations(str(shop.order_id))
    sandboxes.easypost.control.inject(LABEL_FAILS)

    deliver(app, clock, sandboxes)

    assert saga_of(app, shop.case_id)[0] == "compensated"
    both = {r["id"]: (r["sku"], r["quantity"], r["status"]) for r in sandboxes.wms.reservations()}
    assert both.pop(original["id"]) == (SKU, 2, "active")
    assert list(both.values()) == [(SKU, 1, "released")]


def test_an_undone_reship_stops_counting_on_the_ledger_and_a_later_remedy_fits(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    http: TestClient,
    people: tuple[Person, list[Person]],
) -> None:
    whole = Story(
        RESHIP.kind,
        lambda s: {"lines": [{"sku": SKU, "quantity": 2}], "reason": "arrived broken"},
        {},
        ticket=True,
    )
    shop, action = approved_reship(app, clock, sandboxes, http, people, whole)
    agent = people[0]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (remedy,) = earlier_remedies(uow, str(shop.order_id))
    assert (remedy.action_id, remedy.amount_minor) == (action["id"], 4_000)  # the whole order
    sandboxes.easypost.control.inject(LABEL_FAILS)

    deliver(app, clock, sandboxes)

    assert saga_of(app, shop.case_id)[0] == "compensated"
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert earlier_remedies(uow, str(shop.order_id)) == []
    version = http.get(f"/v1/cases/{shop.case_id}", headers=agent.headers).json()["version"]
    moved = http.post(
        f"/v1/cases/{shop.case_id}/transitions",
        json={"move": "escalate", "reason": "the reship was called off", "version": version},
        headers=agent.headers,
    )
    assert moved.status_code == 200, moved.text
    credit = {"amount_minor": 1_000, "reason": "sorry for the wait"}
    later = http.post(
        f"/v1/cases/{shop.case_id}/actions",
        json={"kind": "store_credit", "params": credit},
        headers=agent.headers,
    )
    assert later.status_code == 201, later.text
    assert later.json()["evaluation"]["inputs"]["committed_minor"] == 0
