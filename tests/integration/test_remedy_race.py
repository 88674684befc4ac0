"""The double refund of issue #13, raced for real: one order, two cases, two people at once.

A late, captured order whose parcel the carrier also reports in trouble has two cases (a
``shipment_late`` and a ``carrier_exception``). Two people act on both at the same moment
through real HTTP against the app served by uvicorn, released by one barrier, several
rounds over. Whatever the interleaving, one full refund of the payment passes, the other
request answers 409 problem+json naming the earlier remedy (its action, its case and its
amount), and the outbox holds one refund. PostgreSQL only: that is where two decisions
really run side by side (SQLite has one writer).
"""

from __future__ import annotations

import copy
import threading
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person, api_with_decisions, person
from builders.events import order_placed, payment, scan, shipment
from orderops.bootstrap import App
from orderops.domain.approval_policy import DEFAULT_POLICY
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.sandbox.runner import run_sandbox
from orderops.storage.tables import Case, OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders

ROUNDS = 4
TOTAL = 42_000


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def owner_database_url(postgres_owner_url: str) -> str:
    """Two transactions deciding at once on one order: PostgreSQL only."""
    return postgres_owner_url


def order_with_two_cases(app: App, clock: FixedClock, order_ref: str) -> tuple[str, str]:
    """A captured order past its promise whose parcel the carrier reports as an exception:
    the scan opens a carrier_exception case, the sweep a shipment_late one."""
    placed = clock.now() - timedelta(days=10)
    tracking = f"1Z{order_ref.upper().replace('-', '')}"
    items: list[Any] = [
        order_placed(
            order_ref, at=placed, promised_by=placed + timedelta(days=3), total_minor=TOTAL
        ),
        payment(
            order_ref,
            status="captured",
            at=placed + timedelta(hours=1),
            payment_ref=f"pi-{order_ref}",
            amount_minor=TOTAL,
        ),
        shipment(order_ref, at=placed + timedelta(days=1), tracking=tracking),
        scan("exception", at=placed + timedelta(days=2), tracking=tracking, order_ref=order_ref),
    ]
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    assert report.rejected == []
    sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        cases = {
            c.exception_type: c.id
            for c in uow.session.scalars(
                select(Case).where(Case.tenant_id == "acme", Case.order_ref == order_ref)
            )
        }
    assert {"shipment_late", "carrier_exception"} <= set(cases), cases
    return cases["carrier_exception"], cases["shipment_late"]


def race(base_url: str, calls: list[tuple[Person, str, dict[str, Any]]]) -> list[httpx.Response]:
    """One request per thread, all released by one barrier; answers in call order."""
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response | None] = [None] * len(calls)

    def fire(index: int) -> None:
        who, path, body = calls[index]
        with httpx.Client(base_url=base_url, headers=who.headers, timeout=60.0) as client:
            client.get("/healthz")  # connected before the barrier, so the posts leave together
            barrier.wait()
            answers[index] = client.post(path, json=body)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [a for a in answers if a is not None]


def refunds_of(app: App, order_ref: str) -> list[tuple[str | None, int]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.tenant_id == "acme",
                OutboxMessage.order_ref == order_ref,
                OutboxMessage.operation == "refund",
            )
        )
        return [(r.action_id, int(r.payload["amount_minor"])) for r in rows]


def refund(case_id: str) -> tuple[str, dict[str, Any]]:
    return f"/v1/cases/{case_id}/actions", {
        "kind": "refund",
        "params": {"reason": "parcel late and stuck"},
    }


def assert_names_the_earlier_remedy(
    loser: httpx.Response, *, action_id: str, case_id: str, amount_minor: int
) -> None:
    """409 problem+json whose detail and ``remedies`` name the remedy that got there first."""
    assert loser.status_code == 409, loser.text
    assert loser.headers["content-type"].startswith("application/problem+json")
    body = loser.json()
    assert body["type"].rsplit("/", 1)[1] in {"remedy-pending", "remedy-exceeds-order"}
    assert action_id in body["detail"]
    assert case_id in body["detail"]
    assert str(amount_minor) in body["detail"]
    assert {
        (r["action_id"], r["case_id"], r["kind"], r["amount_minor"]) for r in body["remedies"]
    } == {(action_id, case_id, "refund", amount_minor)}


@pytest.fixture
def people(app: App, clock: FixedClock) -> dict[str, Person]:
    return {
        name: person(app, clock, tenant="acme", role=role, name=name)
        for name, role in (
            ("al-agent", Role.AGENT),
            ("bo-agent", Role.AGENT),
            ("cy-finance", Role.FINANCE_APPROVER),
            ("di-finance", Role.FINANCE_APPROVER),
        )
    }


def test_two_full_refunds_proposed_at_once_on_two_cases_one_passes(
    app: App, clock: FixedClock, people: dict[str, Person]
) -> None:
    orders = [f"o-pp-{n}" for n in range(ROUNDS)]
    cases = [order_with_two_cases(app, clock, ref) for ref in orders]

    with run_sandbox(api_with_decisions(app)) as base_url:
        rounds = [
            race(
                base_url,
                [
                    (people["al-agent"], *refund(carrier)),
                    (people["bo-agent"], *refund(late)),
                ],
            )
            for carrier, late in cases
        ]

    for order_ref, answers in zip(orders, rounds, strict=True):
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        (winner,) = [a.json() for a in answers if a.status_code == 201]
        (loser,) = [a for a in answers if a.status_code == 409]
        assert winner["params"]["amount_minor"] == TOTAL
        assert_names_the_earlier_remedy(
            loser, action_id=winner["id"], case_id=winner["case_id"], amount_minor=TOTAL
        )
        assert refunds_of(app, order_ref) == []  # still waiting for a person


def test_approving_one_refund_while_the_other_case_proposes_one_lets_one_through(
    app: App, clock: FixedClock, people: dict[str, Person]
) -> None:
    orders = [f"o-ap-{n}" for n in range(ROUNDS)]
    with (
        run_sandbox(api_with_decisions(app)) as base_url,
        httpx.Client(base_url=base_url, headers=people["al-agent"].headers, timeout=60.0) as al,
    ):
        rounds = []
        for order_ref in orders:
            carrier, late = order_with_two_cases(app, clock, order_ref)
            first = al.post(refund(carrier)[0], json=refund(carrier)[1])
            assert first.status_code == 201, first.text
            answers = race(
                base_url,
                [
                    (people["cy-finance"], f"/v1/actions/{first.json()['id']}/approve", {}),
                    (people["bo-agent"], *refund(late)),
                ],
            )
            rounds.append((order_ref, first.json(), answers))

    for order_ref, first, (approved, second) in rounds:
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved"
        assert_names_the_earlier_remedy(
            second, action_id=first["id"], case_id=first["case_id"], amount_minor=TOTAL
        )
        assert refunds_of(app, order_ref) == [(first["id"], TOTAL)]


def test_two_approvals_at_once_of_money_from_one_payment_on_two_cases_one_passes(
    app: App, clock: FixedClock, people: dict[str, Person]
) -> None:
    """A full refund waits on one case; a cancellation with refund waits on the other (a
    second refund would be refused at once). Approved together, one refund goes out."""
    orders = [f"o-aa-{n}" for n in range(ROUNDS)]
    with (
        run_sandbox(api_with_decisions(app)) as base_url,
        httpx.Client(base_url=base_url, headers=people["al-agent"].headers, timeout=60.0) as al,
    ):
        rounds = []
        for order_ref in orders:
            carrier, late = order_with_two_cases(app, clock, order_ref)
            first = al.post(refund(carrier)[0], json=refund(carrier)[1])
            assert first.status_code == 201, first.text
            cancel = al.post(
                f"/v1/cases/{late}/actions",
                json={"kind": "cancel_order", "params": {"reason": "customer"}},
            )
            assert cancel.status_code == 201, cancel.text
            answers = race(
                base_url,
                [
                    (people["cy-finance"], f"/v1/actions/{first.json()['id']}/approve", {}),
                    (people["di-finance"], f"/v1/actions/{cancel.json()['id']}/approve", {}),
                ],
            )
            rounds.append((order_ref, first.json(), cancel.json(), answers))

    for order_ref, first, cancel, answers in rounds:
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert {a.json()["id"]: a.json()["status"] for a in answers} == {
            first["id"]: "approved",
            cancel["id"]: "approved",
        }
        # the cancellation was judged with the refund's money spoken for: it refunds nothing
        assert refunds_of(app, order_ref) == [(first["id"], TOTAL)]


def beyond_order_routed_to_two_finance() -> dict[str, Any]:
    """The default policy plus a rule for store credit past what the order is worth."""
    body = copy.deepcopy(DEFAULT_POLICY.body())
    body["kinds"]["store_credit"]["require"].append(
        {
            "name": "beyond-the-order",
            "when": {"share_over": 1.0},
            "approvers": ["finance"],
            "approvals": 2,
        }
    )
    return body


@pytest.mark.parametrize("routed", [False, True], ids=["refused", "routed-by-policy"])
def test_credit_beyond_what_the_order_is_worth_is_refused_or_routed_by_policy(
    app: App, clock: FixedClock, people: dict[str, Person], admin: Person, routed: bool
) -> None:
    if routed:
        with TestClient(api_with_decisions(app)) as setup:
            stored = setup.put(
                "/v1/admin/approval-policy",
                json={"policy": beyond_order_routed_to_two_finance(), "note": "goodwill"},
                headers=admin.headers,
            )
            assert stored.status_code == 200, stored.text
    carrier, late = order_with_two_cases(app, clock, f"o-worth-{routed}")

    with (
        run_sandbox(api_with_decisions(app)) as base_url,
        httpx.Client(base_url=base_url, headers=people["al-agent"].headers, timeout=60.0) as al,
    ):
        first = al.post(refund(carrier)[0], json=refund(carrier)[1])
        credit = al.post(
            f"/v1/cases/{late}/actions",
            json={"kind": "store_credit", "params": {"amount_minor": 5000, "reason": "sorry"}},
        )

    assert first.status_code == 201, first.text
    if routed:
        assert credit.status_code == 201, credit.text
        evaluation = credit.json()["evaluation"]
        assert "beyond-the-order" in evaluation["matched_rules"]
        assert (evaluation["required"], evaluation["approvals"]) == (["finance"], 2)
        assert evaluation["inputs"]["exposure_minor"] == TOTAL + 5000
    else:
        assert "more than the 42000 it is worth" in credit.json()["detail"]
        assert_names_the_earlier_remedy(
            credit, action_id=first.json()["id"], case_id=carrier, amount_minor=TOTAL
        )
