"""Separation of duties by person (issue #13 item 3), through the front door.

Two-person rules count people, not keys: a person holding two keys is one approver. A
service identity never approves money, whatever role its keys carry. Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from builders.access import Person, late_case, person
from orderops.bootstrap import App
from orderops.decide.actions import list_for_case
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.tenancy.users import UserKind, add_user, issue_user_key

BIG = 150_000
"""Over the default policy's two-person limit (two finance approvers above 1000.00)."""


def propose_full_refund(http: TestClient, who: Person, case_id: str) -> dict[str, Any]:
    response = http.post(
        f"/v1/cases/{case_id}/actions",
        json={"kind": "refund", "params": {"reason": "never arrived"}},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def approve(http: TestClient, secret: str, action_id: str) -> Any:
    return http.post(
        f"/v1/actions/{action_id}/approve", headers={"Authorization": f"Bearer {secret}"}
    )


def second_key(app: App, clock: FixedClock, who: Person) -> str:
    return issue_user_key(
        app.sessions,
        tenant_id="acme",
        user_id=who.user_id,
        name="laptop-2",
        clock=clock,
        actor="test",
    ).secret


def test_two_keys_of_one_person_are_one_approver_for_a_two_person_rule(
    app: App, clock: FixedClock, http: TestClient, agent: Person, finance: Person
) -> None:
    other_finance = person(app, clock, tenant="acme", role=Role.FINANCE_APPROVER, name="gus-fin")
    case_id = late_case(app, clock, total_minor=BIG)
    action = propose_full_refund(http, agent, case_id)

    first = approve(http, finance.secret, action["id"])
    again_with_other_key = approve(http, second_key(app, clock, finance), action["id"])
    (waiting,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    by_another_person = approve(http, other_finance.secret, action["id"])

    assert action["evaluation"]["approvals"] == 2
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "awaiting_approval"
    assert again_with_other_key.status_code == 409, again_with_other_key.text
    assert again_with_other_key.json()["type"].endswith("/already-decided")
    assert "counts once" in again_with_other_key.json()["detail"]
    assert waiting.status == "awaiting_approval"
    assert [d.approver for d in waiting.decisions] == [f"user:{finance.user_id}"]
    assert by_another_person.status_code == 200, by_another_person.text
    assert by_another_person.json()["status"] == "approved"
    assert sorted(d["approver"] for d in by_another_person.json()["decisions"]) == sorted(
        [f"user:{finance.user_id}", f"user:{other_finance.user_id}"]
    )


def test_the_proposers_second_key_cannot_approve_their_own_refund(
    app: App, clock: FixedClock, http: TestClient, finance: Person
) -> None:
    case_id = late_case(app, clock, total_minor=BIG)
    action = propose_full_refund(http, finance, case_id)

    mine = approve(http, second_key(app, clock, finance), action["id"])

    assert mine.status_code in {403, 409}, mine.text
    assert mine.json()["type"].endswith("/self-approval")
    (still,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert still.decisions == ()


def test_a_service_identity_with_a_finance_role_never_approves_money(
    app: App, clock: FixedClock, http: TestClient, agent: Person
) -> None:
    bot = add_user(
        app.sessions,
        tenant_id="acme",
        display_name="payout-bot",
        role=Role.FINANCE_APPROVER,
        email="owner@acme.example",
        kind=UserKind.SERVICE,
        clock=clock,
        actor="test",
    )
    keys = [
        issue_user_key(
            app.sessions, tenant_id="acme", user_id=bot.id, name=f"bot-{n}", clock=clock, actor="t"
        ).secret
        for n in range(2)
    ]
    case_id = late_case(app, clock, total_minor=30_000)
    action = propose_full_refund(http, agent, case_id)

    answers = [approve(http, secret, action["id"]) for secret in keys]

    for refused in answers:
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("/approver-not-a-person")
        assert "service identity" in refused.json()["detail"]
    (still,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert (still.status, still.decisions) == ("awaiting_approval", ())
