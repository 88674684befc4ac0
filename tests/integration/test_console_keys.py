"""API keys in the console's admin pages: issued with a role, a scope and an expiry (the
secret shown once), listed with their scope and environment, rotated with an overlap,
revoked; and every rotation, whichever shell made it, recorded as an identity act.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
import typer
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from typer.testing import CliRunner

from builders.access import Person, key_for, person
from builders.console import ConsolePerson, console_person, csrf_of, signed_in
from builders.database_roles import owner_sessions
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.commands.tenancy import register
from orderops.domain.clock import FixedClock
from orderops.domain.errors import Unauthorized
from orderops.domain.roles import Role
from orderops.domain.scopes import parse
from orderops.storage.tables import ApiKey, AuditRecord
from orderops.storage.tables.access import IdentityAct
from orderops.tenancy.access_scopes import set_user_scope
from orderops.tenancy.key_lifecycle import list_keys
from orderops.tenancy.tenants import authenticate
from orderops.tenancy.users import issue_user_key

USERS = "/console/admin/users"
_SECRET = re.compile(r'<code class="secret">([^<]+)</code>')


def submit(browser: TestClient, action: str, **fields: str) -> Response:
    return browser.post(action, data={"csrf": csrf_of(browser.get(USERS).text), **fields})


def shown_secret(page: Response) -> str:
    found = _SECRET.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def flash(response: Response) -> str:
    return unquote(response.cookies.get("oo_flash", ""))


def key_count(app: App, clock: FixedClock) -> int:
    return len(list_keys(app.sessions, tenant_id="acme", clock=clock))


def rotated_acts(app: App) -> list[tuple[str, str | None]]:
    with owner_sessions(app)() as session:
        rows = session.scalars(select(IdentityAct).where(IdentityAct.act == "key_rotated"))
        return [(a.actor, a.key_id) for a in rows]


@pytest.fixture
def admin_person(app: App, clock: FixedClock) -> ConsolePerson:
    return console_person(app, clock, role=Role.ADMIN, name="ada")


def test_a_service_key_is_issued_with_role_scope_and_expiry_and_its_secret_shown_once(
    app: App, clock: FixedClock, admin_person: ConsolePerson
) -> None:
    browser = signed_in(app, admin_person)

    page = submit(
        browser,
        "/console/admin/keys",
        name="eu-feed",
        role="agent",
        scope="region=DE,AT brand=acme",
        expires_in="30d",
    )

    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    secret = shown_secret(page)
    principal = authenticate(app.sessions, secret, clock=clock)
    assert principal.role is Role.AGENT
    assert principal.scope == parse(["region=DE,AT", "brand=acme"])
    (key,) = [
        k for k in list_keys(app.sessions, tenant_id="acme", clock=clock) if k.name == "eu-feed"
    ]
    assert key.expires_at == clock.now() + timedelta(days=30)
    listing = browser.get(USERS).text
    row = next(r for r in listing.split("<tr>") if f"{key.prefix}…" in r)
    assert "brand=acme; region=AT,DE" in row
    assert str(key.environment) in row
    assert "2026-12-20" in row  # the expiry
    assert secret not in listing
    with owner_sessions(app)() as session:
        actions = [
            r.action
            for r in session.scalars(select(AuditRecord).where(AuditRecord.entity_id == key.id))
        ]
    assert actions == ["api_key.issued", "api_key.scope_changed"]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"role": "overlord"}, "unknown role"),
        ({"role": "agent", "scope": "country=DE"}, "not a scope dimension"),
        ({"role": "agent", "scope": "region"}, "dimension=value"),
        ({"role": "agent", "expires_in": "soon"}, "'soon' is not a number with a unit"),
        ({"role": "agent", "expires_in": "-5d"}, ""),
    ],
)
def test_a_bad_key_form_is_refused_with_its_reason_and_issues_nothing(
    app: App,
    clock: FixedClock,
    admin_person: ConsolePerson,
    fields: dict[str, str],
    says: str,
) -> None:
    browser = signed_in(app, admin_person)
    before = key_count(app, clock)

    refused = submit(browser, "/console/admin/keys", name="x", **fields)

    assert refused.status_code == 303
    assert says in flash(refused)
    assert flash(refused)
    assert key_count(app, clock) == before


def test_forged_or_unpermitted_or_wider_than_own_issues_are_refused(
    app: App, clock: FixedClock, admin_person: ConsolePerson
) -> None:
    agent = signed_in(app, console_person(app, clock, role=Role.AGENT))
    regional = console_person(app, clock, role=Role.ADMIN, name="de-admin")
    set_user_scope(
        app.sessions,
        tenant_id="acme",
        user_id=regional.user_id,
        scope=parse(["region=DE"]),
        actor="test",
        clock=clock,
    )
    regional_browser = signed_in(app, regional)
    before = key_count(app, clock)

    no_csrf = signed_in(app, admin_person).post(
        "/console/admin/keys", data={"role": "admin", "name": "x"}
    )
    by_agent = agent.post(
        "/console/admin/keys",
        data={"csrf": csrf_of(agent.get("/console/queues").text), "role": "admin"},
    )
    wider = submit(regional_browser, "/console/admin/keys", role="agent", scope="region=FR")
    own = submit(regional_browser, "/console/admin/keys", role="agent", name="de-feed")

    assert [no_csrf.status_code, by_agent.status_code, wider.status_code] == [403, 403, 403]
    assert own.status_code == 200
    assert authenticate(app.sessions, shown_secret(own), clock=clock).scope == parse(
        ["region=DE"]
    )  # none asked: the issuer's own
    assert key_count(app, clock) == before + 1


def test_the_console_rotates_with_an_overlap_shows_the_successor_once_and_revokes(
    app: App, clock: FixedClock, admin_person: ConsolePerson
) -> None:
    browser = signed_in(app, admin_person)
    old = key_for(app, tenant_id="acme", name="ci", role=Role.SERVICE, clock=clock)

    rotated = submit(browser, f"/console/admin/keys/{old.key_id}/rotate", overlap="1h")
    successor = shown_secret(rotated)
    new_id = authenticate(app.sessions, successor, clock=clock).key_id
    during = authenticate(app.sessions, old.secret, clock=clock)
    again = submit(browser, f"/console/admin/keys/{old.key_id}/rotate", overlap="1h")
    listing = browser.get(USERS).text
    revoked = submit(browser, f"/console/admin/keys/{new_id}/revoke")

    assert rotated.status_code == 200
    assert during.role is Role.SERVICE
    assert rotated_acts(app) == [(f"user:{admin_person.user_id}", old.key_id)]
    assert successor not in listing
    assert "rotating" in next(r for r in listing.split("<tr>") if f"{old.prefix}…" in r)
    assert again.status_code == 303
    assert "already rotated" in flash(again)
    assert revoked.status_code == 303
    with pytest.raises(Unauthorized):
        authenticate(app.sessions, successor, clock=clock)
    clock.advance(timedelta(hours=1, seconds=1))  # the overlap is over
    with pytest.raises(Unauthorized, match="was rotated"):
        authenticate(app.sessions, old.secret, clock=clock)


def test_a_scoped_admin_cannot_rotate_a_key_that_sees_more_nor_another_tenants(
    app: App, clock: FixedClock
) -> None:
    regional = console_person(app, clock, role=Role.ADMIN, name="de-admin")
    set_user_scope(
        app.sessions,
        tenant_id="acme",
        user_id=regional.user_id,
        scope=parse(["region=DE"]),
        actor="test",
        clock=clock,
    )
    browser = signed_in(app, regional)
    everything = key_for(app, tenant_id="acme", name="all", role=Role.VIEWER, clock=clock)
    theirs = key_for(app, tenant_id="globex", name="gx", role=Role.VIEWER, clock=clock)

    wider = submit(browser, f"/console/admin/keys/{everything.key_id}/rotate", overlap="1h")
    foreign = submit(browser, f"/console/admin/keys/{theirs.key_id}/rotate", overlap="1h")

    assert wider.status_code == 403
    assert foreign.status_code == 404
    assert rotated_acts(app) == []
    assert authenticate(app.sessions, everything.secret, clock=clock).key_id == everything.key_id


def test_a_scoped_admin_cannot_issue_a_key_for_someone_who_sees_more(
    app: App, clock: FixedClock
) -> None:
    """Whoever issues a key holds its secret: a regional admin issuing one for an
    unrestricted colleague would hold the colleague's reach."""
    regional = console_person(app, clock, role=Role.ADMIN, name="de-admin")
    for user_id in (
        regional.user_id,
        (local := person(app, clock, tenant="acme", role=Role.AGENT)).user_id,
    ):
        set_user_scope(
            app.sessions,
            tenant_id="acme",
            user_id=user_id,
            scope=parse(["region=DE"]),
            actor="test",
            clock=clock,
        )
    everywhere = person(app, clock, tenant="acme", role=Role.AGENT, name="everywhere")
    browser = signed_in(app, regional)
    api = TestClient(create_app(app))
    regional_key = issue_user_key(
        app.sessions, tenant_id="acme", user_id=regional.user_id, name="api", clock=clock, actor="t"
    )
    as_regional = {"Authorization": f"Bearer {regional_key.secret}"}
    before = key_count(app, clock)

    console_wider = submit(browser, f"{USERS}/{everywhere.user_id}/keys", name="x")
    api_wider = api.post(
        f"/v1/admin/users/{everywhere.user_id}/keys", json={"name": "x"}, headers=as_regional
    )
    assert console_wider.status_code == 403
    assert api_wider.status_code == 403
    assert "region=DE" in api_wider.json()["detail"]
    assert key_count(app, clock) == before

    within = api.post(
        f"/v1/admin/users/{local.user_id}/keys", json={"name": "y"}, headers=as_regional
    )
    assert within.status_code == 201
    assert key_count(app, clock) == before + 1


class _Kept(App):
    def close(self) -> None:
        return None


def test_rotation_from_the_api_and_the_cli_is_an_identity_act_of_the_rotator(
    app: App, clock: FixedClock, http: TestClient, admin: Person, agent: Person
) -> None:
    by_api = http.post(
        f"/v1/admin/keys/{agent.principal.key_id}/rotate", json={}, headers=admin.headers
    )
    ci = key_for(app, tenant_id="acme", name="ci", role=Role.SERVICE, clock=clock)
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    cli, tenant = typer.Typer(), typer.Typer()
    cli.add_typer(tenant, name="tenant")
    register(tenant, app_factory=lambda: kept)
    by_cli = CliRunner().invoke(cli, ["tenant", "key", "rotate", "-t", "acme", ci.key_id])

    assert by_api.status_code == 200, by_api.text
    assert by_cli.exit_code == 0, by_cli.output
    assert rotated_acts(app) == [
        (admin.principal.subject, agent.principal.key_id),
        ("cli", ci.key_id),
    ]
    with owner_sessions(app)() as session:
        (act,) = session.scalars(
            select(IdentityAct).where(
                IdentityAct.act == "key_rotated", IdentityAct.key_id == agent.principal.key_id
            )
        ).all()
        assert act.user_id == agent.user_id  # on the identity the key acts as
        assert session.get(ApiKey, agent.principal.key_id) is not None
