"""My cases, saved views and bulk claim/assign/approve in the console.

Bulk changes go case by case through the single button's service: what one item may not
do is refused with its reason, and the rest are done.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person, late_case
from builders.console import ConsolePerson, console_person, csrf_of, signed_in
from orderops.bootstrap import App
from orderops.decide import actions as action_service
from orderops.decide import approvals
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import parse
from orderops.evidence.service import default_store
from orderops.storage.tables import Action, Case, OutboxMessage, SavedView
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.access_scopes import set_user_scope
from orderops.tenancy.tenants import Principal


def _queue_of(app: App, case_id: str) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.session.scalar(select(Case).where(Case.id == case_id))
        assert case is not None
        assert case.queue is not None
        return case.queue


def _bulk(client: TestClient, queue: str, op: str, case_ids: list[str], **extra: str) -> Any:
    token = csrf_of(client.get(f"/console/queues/{queue}").text)
    return client.post(
        "/console/bulk",
        data={
            "csrf": token,
            "op": op,
            "case": case_ids,
            "back": f"/console/queues/{queue}",
            **extra,
        },
    )


def _assignees(app: App, case_ids: list[str]) -> dict[str, str | None]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(select(Case).where(Case.id.in_(case_ids)))
        return {c.id: c.assignee for c in rows}


def _principal(person: ConsolePerson) -> Principal:
    return Principal(
        tenant_id=person.tenant,
        role=person.role,
        name=person.name,
        subject=f"user:{person.user_id}",
    )


def _propose(app: App, clock: FixedClock, case_id: str, who: Principal) -> str:
    view = action_service.propose(
        app.sessions,
        tenant_id="acme",
        case_id=case_id,
        kind="refund",
        params={"reason": "parcel lost"},
        principal=who,
        clock=clock,
        evidence=default_store(app.settings),
    )
    return view.id


def _status(app: App, action_id: str) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        action = uow.session.scalar(select(Action).where(Action.id == action_id))
        assert action is not None
        return action.status


def test_bulk_claim_claims_the_free_cases_and_says_which_were_held(
    app: App, clock: FixedClock
) -> None:
    cases = [late_case(app, clock) for _ in range(3)]
    queue = _queue_of(app, cases[0])
    holder = console_person(app, clock, role=Role.AGENT, name="Hana Holder")
    me = console_person(app, clock, role=Role.AGENT, name="Ivo Me")
    held = _bulk(signed_in(app, holder), queue, "claim", [cases[2]])
    client = signed_in(app, me)

    answer = _bulk(client, queue, "claim", cases)

    assert held.status_code == 200
    assert answer.status_code == 200
    assert "2 done, 1 refused" in answer.text
    assert "Hana Holder" in answer.text  # why: who holds it
    assert _assignees(app, cases) == {
        cases[0]: "Ivo Me",
        cases[1]: "Ivo Me",
        cases[2]: "Hana Holder",
    }
    mine = client.get("/console/mine").text
    assert set(re.findall(r'/console/cases/([0-9a-f]+)"', mine)) == {cases[0], cases[1]}


def test_bulk_assign_needs_a_person_of_the_tenant(app: App, clock: FixedClock) -> None:
    cases = [late_case(app, clock) for _ in range(2)]
    queue = _queue_of(app, cases[0])
    console_person(app, clock, role=Role.AGENT, name="Jo Target")
    client = signed_in(app, console_person(app, clock, role=Role.AGENT))

    nobody = _bulk(client, queue, "assign", cases, assignee="Nobody Here")
    assigned = _bulk(client, queue, "assign", cases, assignee="Jo Target")

    assert nobody.status_code == 303  # refused back to the queue with the reason
    assert assigned.status_code == 200
    assert _assignees(app, cases) == dict.fromkeys(cases, "Jo Target")


def test_bulk_approval_approves_within_policy_and_refuses_the_rest_saying_why(
    app: App, clock: FixedClock, agent: Person
) -> None:
    small, large, own = (late_case(app, clock, total_minor=t) for t in (5000, 200_000, 6000))
    bulk_approver = console_person(app, clock, role=Role.APPROVER, name="Bea Bulk")
    other = console_person(app, clock, role=Role.APPROVER, name="Otto Other")
    small_action = _propose(app, clock, small, agent.principal)
    large_action = _propose(app, clock, large, agent.principal)
    own_action = _propose(app, clock, own, _principal(bulk_approver))
    approvals.approve(  # one approver has signed; the policy still wants finance
        app.sessions,
        tenant_id="acme",
        action_id=large_action,
        principal=_principal(other),
        clock=clock,
        evidence=default_store(app.settings),
    )
    client = signed_in(app, bulk_approver)

    answer = _bulk(client, _queue_of(app, small), "approve", [small, large, own])

    assert answer.status_code == 200, answer.text
    assert "1 done, 2 refused" in answer.text
    refused = answer.text[answer.text.index('id="bulk-refused"') :]
    assert "finance" in refused
    assert "propos" in refused  # maker-checker: one's own proposal
    assert {a: _status(app, a) for a in (small_action, large_action, own_action)} == {
        small_action: "approved",
        large_action: "awaiting_approval",
        own_action: "awaiting_approval",
    }
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        queued = set(uow.session.scalars(select(OutboxMessage.action_id)))
    assert queued == {small_action}


def test_an_agent_cannot_bulk_approve(app: App, clock: FixedClock, agent: Person) -> None:
    case_id = late_case(app, clock)
    action_id = _propose(app, clock, case_id, agent.principal)
    client = signed_in(app, console_person(app, clock, role=Role.AGENT))

    answer = _bulk(client, _queue_of(app, case_id), "approve", [case_id])

    assert answer.status_code == 403
    assert _status(app, action_id) == "awaiting_approval"


def test_bulk_claim_cannot_reach_another_tenant_or_outside_the_scope(
    app: App, clock: FixedClock
) -> None:
    ours = late_case(app, clock)
    theirs = late_case(app, clock, tenant="globex")
    scoped = console_person(app, clock, role=Role.AGENT, name="Sol Scoped")
    set_user_scope(
        app.sessions,
        tenant_id="acme",
        user_id=scoped.user_id,
        scope=parse(["region=DE"]),  # the case ships to the US
        actor="test",
        clock=clock,
    )
    admin = console_person(app, clock, role=Role.ADMIN, name="Una Unscoped")
    queue = _queue_of(app, ours)

    outside = _bulk(signed_in(app, scoped), queue, "claim", [ours])
    foreign = _bulk(signed_in(app, admin), queue, "claim", [theirs])

    assert "0 done, 1 refused" in outside.text
    assert "0 done, 1 refused" in foreign.text
    assert _assignees(app, [ours]) == {ours: None}
    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow:
        assert uow.session.scalar(select(Case.assignee).where(Case.id == theirs)) is None


def test_saved_views_are_a_persons_own_and_open_their_filters(app: App, clock: FixedClock) -> None:
    me = console_person(app, clock, role=Role.AGENT)
    client = signed_in(app, me)
    someone = signed_in(app, console_person(app, clock, role=Role.AGENT))
    token = csrf_of(client.get("/console/mine").text)

    saved = client.post(
        "/console/views",
        data={
            "csrf": token,
            "name": "Breached first",
            "path": "/console/queues/ops",
            "query": "sla=breached&sort=sla&evil=1&type=",
        },
    )
    replaced = client.post(
        "/console/views",
        data={
            "csrf": token,
            "name": "Breached first",
            "path": "/console/queues/ops",
            "query": "sla=breached&sort=oldest",
        },
    )
    elsewhere = client.post(
        "/console/views",
        data={"csrf": token, "name": "Out", "path": "https://evil.example/x", "query": ""},
    )
    listed = client.get("/console/mine").text
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        [view] = uow.session.scalars(select(SavedView)).all()
        view_id, view_user = view.id, view.user_id
    theirs = someone.get("/console/mine").text
    token_b = csrf_of(theirs)
    stolen = someone.post("/console/views/delete", data={"csrf": token_b, "view_id": view_id})
    deleted = client.post("/console/views/delete", data={"csrf": token, "view_id": view_id})

    assert saved.status_code == 303
    assert saved.headers["location"] == "/console/queues/ops?sla=breached&sort=sla"
    assert replaced.headers["location"] == "/console/queues/ops?sla=breached&sort=oldest"
    assert elsewhere.status_code == 303  # refused back with the reason
    assert view_user == me.user_id
    assert 'href="/console/queues/ops?sla=breached&amp;sort=oldest">Breached first' in listed
    assert "Breached first" not in theirs
    assert stolen.status_code == 404
    assert deleted.status_code == 303
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.session.scalars(select(SavedView)).all() == []
