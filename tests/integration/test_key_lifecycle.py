"""An API key's life: a prefix that says its environment, shown once, an expiry, rotation
with an overlap, revocation; refusals that say which key and why; every act audited."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from builders.access import Person, key_for, legacy_key
from builders.console import console_person, signed_in
from builders.database_roles import owner_sessions
from orderops.bootstrap import App
from orderops.commands.tenancy import register
from orderops.domain.api_keys import InvalidKeyRequest
from orderops.domain.clock import FixedClock
from orderops.domain.errors import Unauthorized
from orderops.domain.roles import Role
from orderops.storage.tables import ApiKey, AuditRecord
from orderops.storage.tables.access import IdentityAct
from orderops.tenancy.key_lifecycle import list_keys, rotate_key
from orderops.tenancy.tenants import authenticate, hash_key

NEW_KEY = re.compile(r"^oo_live_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$")


def problem(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"].endswith("/" + code), body
    detail: str = body["detail"]
    return detail


def stored_keys(app: App) -> list[ApiKey]:
    with owner_sessions(app)() as session:
        rows = list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))
        session.expunge_all()
        return rows


def audited(app: App, action: str) -> list[AuditRecord]:
    with owner_sessions(app)() as session:
        rows = list(session.scalars(select(AuditRecord).where(AuditRecord.action == action)))
        session.expunge_all()
        return rows


class _Kept(App):
    def close(self) -> None:
        return None


def tenant_cli(app: App) -> typer.Typer:
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    cli, tenant = typer.Typer(), typer.Typer()
    cli.add_typer(tenant, name="tenant")
    register(tenant, app_factory=lambda: kept)
    return cli


# --- issue ---------------------------------------------------------------------------------


def test_a_new_key_says_its_environment_and_only_its_hash_and_prefix_are_kept(
    app: App, clock: FixedClock
) -> None:
    issued = key_for(app, tenant_id="acme", name="svc", role=Role.SERVICE, clock=clock)

    (row,) = stored_keys(app)
    assert NEW_KEY.match(issued.secret), issued.secret
    assert row.prefix == issued.prefix == issued.secret[:16]
    assert issued.secret not in {row.key_hash, row.prefix, row.name}
    (record,) = audited(app, "api_key.issued")
    assert issued.secret not in str(record.data)
    assert record.data["prefix"] == issued.prefix
    assert record.data["environment"] == "live"


def test_a_key_from_before_environments_keeps_working(app: App, clock: FixedClock) -> None:
    legacy = "oo_" + "L" * 43
    legacy_key(app, tenant_id="acme", name="old", role=Role.VIEWER, clock=clock, secret=legacy)

    principal = authenticate(app.sessions, legacy, clock=clock)

    assert (principal.tenant_id, principal.environment) == ("acme", "live")
    assert [k.prefix for k in list_keys(app.sessions, tenant_id="acme", clock=clock)] == [
        "oo_LLLLLLL"
    ]


def test_a_key_naming_another_environment_than_its_tenant_is_refused_at_issue(
    app: App, clock: FixedClock
) -> None:
    with pytest.raises(InvalidKeyRequest, match="names the test environment"):
        key_for(
            app,
            tenant_id="acme",
            name="x",
            role=Role.ADMIN,
            clock=clock,
            secret="oo_test_abcd1234_" + "x" * 43,
        )
    assert stored_keys(app) == []


def test_a_stored_key_whose_prefix_names_another_environment_is_refused(
    app: App, clock: FixedClock
) -> None:
    # Only a row written behind the service's back can disagree; authentication still
    # checks, so a key's own words about its environment are never wrong and trusted.
    forged = "oo_test_abcd1234_" + "y" * 43
    key_for(app, tenant_id="acme", name="k", role=Role.ADMIN, clock=clock)
    with owner_sessions(app)() as session:
        row = session.scalars(select(ApiKey)).one()
        row.key_hash = hash_key(forged)
        session.commit()

    with pytest.raises(Unauthorized, match="names the test environment but belongs to the live"):
        authenticate(app.sessions, forged, clock=clock)


def test_the_admin_api_issues_with_an_expiry_and_lists_without_secrets(
    http: TestClient, app: App, clock: FixedClock, admin: Person, agent: Person
) -> None:
    issued = http.post(
        f"/v1/admin/users/{agent.user_id}/keys",
        json={"name": "ci", "expires_in": "90d"},
        headers=admin.headers,
    )
    listed = http.get("/v1/admin/keys", headers=admin.headers)

    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert datetime.fromisoformat(body["expires_at"]) == clock.now() + timedelta(days=90)
    assert body["prefix"] == body["secret"][:16]
    keys = {k["id"]: k for k in listed.json()}
    new = keys[body["key_id"]]
    assert (new["prefix"], new["environment"], new["state"]) == (body["prefix"], "live", "active")
    assert datetime.fromisoformat(new["expires_at"]) == clock.now() + timedelta(days=90)
    assert keys[admin.principal.key_id]["last_used_at"] is not None
    assert body["secret"] not in listed.text
    assert admin.secret not in listed.text
    assert agent.secret not in listed.text
    assert "key_hash" not in listed.text


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"name": "x", "expires_in": "90x"}, "invalid-duration", "90x"),
        (
            {"name": "x", "expires_at": "2020-01-01T00:00:00+00:00"},
            "invalid-key-request",
            "not after",
        ),
        (
            {"name": "x", "expires_in": "1d", "expires_at": "2030-01-01T00:00:00+00:00"},
            "invalid-key-request",
            "not both",
        ),
    ],
)
def test_an_unusable_expiry_is_refused_and_no_key_is_issued(
    http: TestClient,
    app: App,
    admin: Person,
    agent: Person,
    body: dict[str, str],
    code: str,
    words: str,
) -> None:
    before = len(stored_keys(app))

    response = http.post(f"/v1/admin/users/{agent.user_id}/keys", json=body, headers=admin.headers)

    assert words in problem(response, 422, code)
    assert len(stored_keys(app)) == before


# --- expiry and revocation -----------------------------------------------------------------


def test_an_expired_key_answers_401_naming_the_key_and_when(
    http: TestClient, app: App, clock: FixedClock
) -> None:
    issued = key_for(
        app,
        tenant_id="acme",
        name="ci",
        role=Role.VIEWER,
        clock=clock,
        expires_at=clock.now() + timedelta(days=90),
    )
    headers = {"Authorization": f"Bearer {issued.secret}"}

    clock.advance(timedelta(days=90) - timedelta(seconds=1))
    before = http.get("/v1/cases", headers=headers)
    clock.advance(timedelta(seconds=1))
    after = http.get("/v1/cases", headers=headers)

    assert before.status_code == 200
    detail = problem(after, 401, "api-key-expired")
    assert detail == f"key {issued.prefix}... expired at 2027-02-18T12:00:00+00:00"
    assert issued.secret not in after.text
    assert after.headers["www-authenticate"] == "Bearer"


def test_a_revoked_key_answers_401_saying_so(
    http: TestClient, app: App, clock: FixedClock, admin: Person, agent: Person
) -> None:
    revoked = http.post(f"/v1/admin/keys/{agent.principal.key_id}/revoke", headers=admin.headers)

    refused = http.get("/v1/cases", headers=agent.headers)

    assert revoked.json()["state"] == "revoked"
    detail = problem(refused, 401, "api-key-revoked")
    assert detail.startswith(f"key {agent.secret[:16]}... was revoked at ")


def test_an_unknown_key_says_nothing_about_keys_that_exist(http: TestClient) -> None:
    refused = http.get("/v1/cases", headers={"Authorization": "Bearer oo_live_abcd1234_nope"})

    assert problem(refused, 401, "unauthorized") == "unknown API key"


# --- rotation ------------------------------------------------------------------------------


def test_rotation_issues_a_successor_as_the_same_identity_and_the_old_key_works_until_the_overlap_ends(  # noqa: E501
    http: TestClient, app: App, clock: FixedClock, admin: Person, agent: Person
) -> None:
    rotated = http.post(
        f"/v1/admin/keys/{agent.principal.key_id}/rotate",
        json={"overlap": "24h"},
        headers=admin.headers,
    )
    body = rotated.json()
    successor = {"Authorization": f"Bearer {body['successor']['secret']}"}

    clock.advance(timedelta(hours=23, minutes=59))
    old_during = http.get("/v1/cases", headers=agent.headers)
    new_during = http.get("/v1/cases", headers=successor)
    clock.advance(timedelta(minutes=1))
    old_after = http.get("/v1/cases", headers=agent.headers)
    new_after = http.get("/v1/cases", headers=successor)

    assert rotated.status_code == 200, rotated.text
    assert body["rotated"]["state"] == "rotating"
    assert body["rotated"]["successor_id"] == body["successor"]["key_id"]
    assert (old_during.status_code, new_during.status_code) == (200, 200)
    detail = problem(old_after, 401, "api-key-rotated")
    assert detail == (
        f"key {agent.secret[:16]}... was rotated at 2026-11-20T12:00:00+00:00 and expired at "
        f"2026-11-21T12:00:00+00:00 when its overlap ended; use its successor "
        f"{body['successor']['prefix']}..."
    )
    assert new_after.status_code == 200
    principal = authenticate(app.sessions, body["successor"]["secret"], clock=clock)
    assert (principal.subject, principal.role) == (agent.principal.subject, Role.AGENT)


def test_rotation_is_audited_and_recorded_as_an_identity_act_of_the_rotator(
    http: TestClient, app: App, admin: Person, agent: Person
) -> None:
    body = http.post(
        f"/v1/admin/keys/{agent.principal.key_id}/rotate", json={}, headers=admin.headers
    ).json()

    (record,) = audited(app, "api_key.rotated")
    assert record.actor == admin.principal.subject
    assert record.entity_id == agent.principal.key_id
    assert record.data["successor_id"] == body["successor"]["key_id"]
    assert record.data["overlap"] == "1d"
    assert body["successor"]["secret"] not in str(record.data)
    with owner_sessions(app)() as session:
        acts = session.scalars(
            select(IdentityAct).where(IdentityAct.key_id == body["successor"]["key_id"])
        ).all()
        assert [(a.act, a.actor, a.user_id) for a in acts] == [
            ("key_issued", admin.principal.subject, agent.user_id)
        ]


def test_a_successor_lives_as_long_as_its_predecessor_was_issued_for(
    app: App, clock: FixedClock
) -> None:
    old = key_for(
        app,
        tenant_id="acme",
        name="ci",
        role=Role.SERVICE,
        clock=clock,
        expires_at=clock.now() + timedelta(days=30),
    )
    clock.advance(timedelta(days=10))

    rotation = rotate_key(
        app.sessions, tenant_id="acme", key_id=old.key_id, clock=clock, actor="test"
    )

    assert rotation.successor.expires_at == clock.now() + timedelta(days=30)
    assert rotation.rotated.expires_at == clock.now() + timedelta(hours=24)


def test_an_overlap_never_outlives_the_old_keys_own_expiry(app: App, clock: FixedClock) -> None:
    old = key_for(
        app,
        tenant_id="acme",
        name="ci",
        role=Role.SERVICE,
        clock=clock,
        expires_at=clock.now() + timedelta(hours=2),
    )

    rotation = rotate_key(
        app.sessions,
        tenant_id="acme",
        key_id=old.key_id,
        clock=clock,
        actor="test",
        overlap=timedelta(days=7),
    )

    assert rotation.rotated.expires_at == clock.now() + timedelta(hours=2)


def test_a_rotated_or_revoked_key_cannot_be_rotated_again(
    http: TestClient, admin: Person, agent: Person, approver: Person
) -> None:
    first = http.post(
        f"/v1/admin/keys/{agent.principal.key_id}/rotate", json={}, headers=admin.headers
    )
    again = http.post(
        f"/v1/admin/keys/{agent.principal.key_id}/rotate", json={}, headers=admin.headers
    )
    http.post(f"/v1/admin/keys/{approver.principal.key_id}/revoke", headers=admin.headers)
    revoked = http.post(
        f"/v1/admin/keys/{approver.principal.key_id}/rotate", json={}, headers=admin.headers
    )
    missing = http.post("/v1/admin/keys/nope/rotate", json={}, headers=admin.headers)

    assert first.status_code == 200
    assert first.json()["successor"]["key_id"] in problem(again, 409, "api-key-not-rotatable")
    assert "is revoked" in problem(revoked, 409, "api-key-not-rotatable")
    assert missing.status_code == 404


def test_the_cli_rotates_with_no_overlap_and_lists_each_keys_state(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the table's columns uncut
    cli, runner = tenant_cli(app), CliRunner()
    issued = runner.invoke(cli, ["tenant", "key", "--tenant", "acme", "--service", "shop-sync"])
    (key,) = list_keys(app.sessions, tenant_id="acme", clock=clock)

    rotated = runner.invoke(
        cli, ["tenant", "key", "rotate", "-t", "acme", key.id, "--overlap", "0"]
    )
    listed = runner.invoke(cli, ["tenant", "key", "list", "-t", "acme"])

    assert issued.exit_code == 0, issued.output
    assert NEW_KEY.match(issued.stdout.strip()), issued.stdout
    assert rotated.exit_code == 0, rotated.output
    successor = rotated.stdout.strip()
    assert NEW_KEY.match(successor)
    with pytest.raises(Unauthorized, match="was rotated"):
        authenticate(app.sessions, issued.stdout.strip(), clock=clock)
    assert authenticate(app.sessions, successor, clock=clock).role is Role.SERVICE
    rows = [[c.strip() for c in line.split("│")] for line in listed.stdout.splitlines()]
    states = {row[3]: row[6] for row in rows if len(row) > 6 and row[3].startswith("oo_")}
    assert states == {issued.stdout.strip()[:16]: "retired", successor[:16]: "active"}
    assert successor not in listed.stdout


def test_the_cli_refuses_a_bad_expiry_with_one_clear_line(app: App) -> None:
    cli, runner = tenant_cli(app), CliRunner()

    result = runner.invoke(
        cli, ["tenant", "key", "issue", "-t", "acme", "--service", "ci", "--expires-in", "soon"]
    )

    assert result.exit_code == 1
    assert "'soon' is not a number with a unit" in result.output
    assert stored_keys(app) == []


def test_the_console_lists_each_keys_expiry_and_state(app: App, clock: FixedClock) -> None:
    viewer = signed_in(app, console_person(app, clock, role=Role.ADMIN))
    old = key_for(app, tenant_id="acme", name="ci", role=Role.SERVICE, clock=clock)
    rotate_key(app.sessions, tenant_id="acme", key_id=old.key_id, clock=clock, actor="test")

    page = viewer.get("/console/admin/users")

    assert page.status_code == 200
    row = next(r for r in page.text.split("<tr>") if f"{old.prefix}…" in r)
    assert "2026-11-21 12:00" in row  # the end of the overlap
    assert "rotating" in row
    assert old.secret[16:] not in page.text


def test_a_successor_is_held_to_its_predecessors_scope(app: App, clock: FixedClock) -> None:
    old = key_for(app, tenant_id="acme", name="eu", role=Role.VIEWER, clock=clock)
    with owner_sessions(app)() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.id == old.key_id)).one()
        row.scope = {"region": ["AT", "DE"]}
        session.commit()

    rotation = rotate_key(
        app.sessions, tenant_id="acme", key_id=old.key_id, clock=clock, actor="test"
    )

    principal = authenticate(app.sessions, rotation.successor.secret, clock=clock)
    assert principal.scope.describe() == "region=AT,DE"
