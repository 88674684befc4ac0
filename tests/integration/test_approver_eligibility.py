"""Approvers are people the proposer did not make: one admin cannot satisfy maker-checker alone.

An admin can create a user, give it a role, reset its password or issue it a key; each of
those hands the admin a second identity. Within the approval policy's provenance window,
such an identity cannot approve that admin's actions, and the refusal says which act, by
whom and when. Service keys and keys without a person behind them never approve. Every
scenario goes through the HTTP API or the console, as the people involved.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import typer
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from builders.access import Person, late_case, legacy_key, person
from builders.console import console_person, post_form, signed_in
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.commands.access import register
from orderops.decide.actions import list_for_case
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.identity_acts import list_acts
from orderops.tenancy.users import UserKind, add_user, issue_user_key


def propose_refund(http: TestClient, who: Person | dict[str, str], case_id: str) -> str:
    headers = who.headers if isinstance(who, Person) else who
    response = http.post(
        f"/v1/cases/{case_id}/actions",
        json={"kind": "refund", "params": {"reason": "parcel lost"}},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "awaiting_approval"
    action_id: str = response.json()["id"]
    return action_id


def approve(http: TestClient, secret: str, action_id: str) -> Any:
    return http.post(
        f"/v1/actions/{action_id}/approve", headers={"Authorization": f"Bearer {secret}"}
    )


def audit_of(app: App, action: str) -> list[AuditRecord]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = list(
            uow.session.scalars(
                select(AuditRecord)
                .where(AuditRecord.tenant_id == "acme", AuditRecord.action == action)
                .order_by(AuditRecord.seq)
            )
        )
        uow.session.expunge_all()
        return rows


def test_an_approver_the_proposing_admin_created_and_keyed_is_refused_with_the_reason(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    created = http.post(
        "/v1/admin/users",
        json={"display_name": "Sock Puppet", "role": "finance_approver", "email": "s@acme.example"},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    puppet_id = created.json()["id"]
    issued = http.post(
        f"/v1/admin/users/{puppet_id}/keys", json={"name": "puppet"}, headers=admin.headers
    )
    assert issued.status_code == 201, issued.text
    case_id = late_case(app, clock)
    action_id = propose_refund(http, admin, case_id)

    refused = approve(http, issued.json()["secret"], action_id)

    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/approver-made-by-proposer")
    detail = refused.json()["detail"]
    assert f"user:{puppet_id}" in detail
    assert f"created by user:{admin.user_id}" in detail
    assert f"key issued by user:{admin.user_id}" in detail
    assert clock.now().isoformat(timespec="seconds") in detail
    (still,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert still.status == "awaiting_approval"
    assert still.decisions == ()

    independent = person(app, clock, tenant="acme", role=Role.APPROVER, name="ivy-approver")
    accepted = approve(http, independent.secret, action_id)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "approved"


def test_the_admin_acts_are_audited_under_the_admins_id_and_listed_on_the_identity(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    created = http.post(
        "/v1/admin/users",
        json={"display_name": "Fin", "role": "approver", "email": "fin@acme.example"},
        headers=admin.headers,
    ).json()
    key = http.post(
        f"/v1/admin/users/{created['id']}/keys", json={"name": "k"}, headers=admin.headers
    ).json()
    clock.advance(timedelta(minutes=5))
    role = http.post(
        f"/v1/admin/users/{created['id']}/role",
        json={"role": "finance_approver"},
        headers=admin.headers,
    )
    assert role.status_code == 200, role.text
    assert role.json()["role"] == "finance_approver"
    revoked = http.post(f"/v1/admin/keys/{key['key_id']}/revoke", headers=admin.headers)
    assert revoked.status_code == 200

    listed = http.get(f"/v1/admin/users/{created['id']}/provenance", headers=admin.headers)

    assert listed.status_code == 200, listed.text
    assert [(p["act"], p["actor"], p["key_id"]) for p in listed.json()] == [
        ("created", admin.principal.subject, None),
        ("key_issued", admin.principal.subject, key["key_id"]),
        ("role_changed", admin.principal.subject, None),
        ("key_revoked", admin.principal.subject, key["key_id"]),
    ]
    (changed,) = audit_of(app, "user.role_changed")
    assert changed.actor == admin.principal.subject
    assert changed.data == {"from": "approver", "to": "finance_approver"}
    assert {r.actor for r in audit_of(app, "user.added")} >= {admin.principal.subject}
    assert [r.actor for r in audit_of(app, "api_key.revoked")] == [admin.principal.subject]
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def test_a_role_given_by_the_proposer_makes_the_approver_ineligible(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    agent = person(app, clock, tenant="acme", role=Role.AGENT, name="al-agent")
    promoted = http.post(
        f"/v1/admin/users/{agent.user_id}/role", json={"role": "approver"}, headers=admin.headers
    )
    assert promoted.status_code == 200, promoted.text
    action_id = propose_refund(http, admin, late_case(app, clock))

    refused = approve(http, agent.secret, action_id)

    assert refused.status_code == 403
    assert f"role changed by user:{admin.user_id}" in refused.json()["detail"]


def test_a_password_reset_by_the_proposer_makes_that_user_ineligible_for_the_window(
    app: App, clock: FixedClock, http: TestClient
) -> None:
    boss = console_person(app, clock, role=Role.ADMIN, name="Boss")
    console = signed_in(app, boss)
    bob = person(app, clock, tenant="acme", role=Role.APPROVER, name="bob-approver")
    reset = post_form(
        console,
        "/console/admin/users",
        f"/console/admin/users/{bob.user_id}/password",
        password="a brand new password",
    )
    assert reset.status_code == 303  # type: ignore[attr-defined]
    (audited,) = [r for r in audit_of(app, "user.password_set") if r.entity_id == bob.user_id]
    assert audited.actor == f"user:{boss.user_id}"

    first = late_case(app, clock)
    post_form(
        console,
        f"/console/cases/{first}",
        f"/console/cases/{first}/actions",
        kind="refund",
        **{"f.reason": "the parcel is a week late"},
    )
    (action,) = list_for_case(app.sessions, tenant_id="acme", case_id=first)
    refused = approve(http, bob.secret, action.id)
    assert refused.status_code == 403, refused.text
    assert f"password reset by user:{boss.user_id}" in refused.json()["detail"]
    assert "7-day" in refused.json()["detail"]

    clock.advance(timedelta(days=7, minutes=1))
    console = signed_in(app, boss)  # the first session has expired by now
    later = late_case(app, clock)
    post_form(
        console,
        f"/console/cases/{later}",
        f"/console/cases/{later}/actions",
        kind="refund",
        **{"f.reason": "the parcel is a week late"},
    )
    (action,) = list_for_case(app.sessions, tenant_id="acme", case_id=later)
    accepted = approve(http, bob.secret, action.id)
    assert accepted.status_code == 200, accepted.text


def test_the_window_is_a_setting_of_the_approval_policy(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    policy = http.get("/v1/admin/approval-policy", headers=admin.headers).json()["body"]
    assert policy["provenance_window_days"] == 7
    policy["provenance_window_days"] = 30
    stored = http.put("/v1/admin/approval-policy", json={"policy": policy}, headers=admin.headers)
    assert stored.status_code == 200, stored.text
    created = http.post(
        "/v1/admin/users",
        json={"display_name": "Pat", "role": "approver", "email": "pat@acme.example"},
        headers=admin.headers,
    ).json()
    secret = http.post(
        f"/v1/admin/users/{created['id']}/keys", json={"name": "k"}, headers=admin.headers
    ).json()["secret"]

    clock.advance(timedelta(days=10))
    refused = approve(http, secret, propose_refund(http, admin, late_case(app, clock)))

    assert refused.status_code == 403
    assert "30-day" in refused.json()["detail"]


def test_service_identities_and_keys_without_a_person_never_approve(
    app: App, clock: FixedClock, http: TestClient
) -> None:
    agent = person(app, clock, tenant="acme", role=Role.AGENT, name="al-agent")
    service = add_user(
        app.sessions,
        tenant_id="acme",
        display_name="refund-bot",
        role=Role.APPROVER,
        email="owner@acme.example",
        kind=UserKind.SERVICE,
        clock=clock,
        actor="test",
    )
    bot_key = issue_user_key(
        app.sessions, tenant_id="acme", user_id=service.id, name="bot", clock=clock, actor="test"
    )
    bare_key = legacy_key(
        app, tenant_id="acme", name="old-approver-key", role=Role.APPROVER, clock=clock
    )
    case_id = late_case(app, clock)
    action_id = propose_refund(http, agent, case_id)

    by_bot = approve(http, bot_key.secret, action_id)
    by_bare_key = approve(http, bare_key.secret, action_id)

    for refused in (by_bot, by_bare_key):
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("/approver-not-a-person")
    assert "service identity" in by_bot.json()["detail"]
    assert f"key:{bare_key.key_id}" in by_bare_key.json()["detail"]
    (still,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert still.decisions == ()


def test_the_console_changes_roles_as_the_admin_and_lists_who_made_each_user(
    app: App, clock: FixedClock, http: TestClient
) -> None:
    boss = console_person(app, clock, role=Role.ADMIN, name="Boss")
    console = signed_in(app, boss)
    agent = person(app, clock, tenant="acme", role=Role.AGENT, name="al-agent")

    changed = post_form(
        console,
        "/console/admin/users",
        f"/console/admin/users/{agent.user_id}/role",
        role="approver",
    )

    assert changed.status_code == 303  # type: ignore[attr-defined]
    (audited,) = audit_of(app, "user.role_changed")
    assert (audited.actor, audited.entity_id) == (f"user:{boss.user_id}", agent.user_id)
    page = console.get("/console/admin/users").text
    assert f'role changed by Boss <span class="mono muted">(user:{boss.user_id})' in page
    assert 'created by <span class="mono">test</span>' in page
    proposer = person(app, clock, tenant="acme", role=Role.AGENT)
    action_id = propose_refund(http, proposer, late_case(app, clock))
    assert approve(http, agent.secret, action_id).status_code == 200


class _Kept(App):
    """The test's app, handed to commands that close it when done (here: a no-op)."""

    def close(self) -> None:
        return None


def test_the_cli_changes_roles_as_cli_and_prints_the_provenance(
    app: App, clock: FixedClock
) -> None:
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    cli = typer.Typer()
    register(cli, app_factory=lambda: kept)
    runner = CliRunner()
    agent = person(app, clock, tenant="acme", role=Role.AGENT, name="al-agent")

    changed = runner.invoke(
        cli, ["users", "set-role", "-t", "acme", agent.user_id, "--role", "approver"]
    )
    shown = runner.invoke(cli, ["users", "provenance", "-t", "acme", agent.user_id])

    assert changed.exit_code == 0, changed.output
    assert f"user {agent.user_id} is now approver" in changed.output
    assert [
        (a.act, a.actor) for a in list_acts(app.sessions, tenant_id="acme", user_id=agent.user_id)
    ] == [
        ("created", "test"),
        ("key_issued", "test"),
        ("role_changed", "cli"),
    ]
    assert shown.exit_code == 0, shown.output
    assert [w for w in shown.output.split() if w in {"created", "key_issued", "role_changed"}] == [
        "created",
        "key_issued",
        "role_changed",
    ]
