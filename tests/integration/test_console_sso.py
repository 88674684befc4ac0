"""Console single sign-on against a real OpenID Connect provider started by the test.

The provider (``builders/oidc_issuer.py``) listens on 127.0.0.1 and signs real RS256 ID
tokens; the console fetches its discovery document and keys and exchanges codes with it
over HTTP. The browser is an httpx client: the console's test client for our pages, a plain
one for the provider's. Every refusal must be a page that says why, with no session and
with an audit record; never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from builders.console import PASSWORD, console_person, csrf_of, post_form
from builders.oidc_issuer import (
    Issuer,
    approve,
    begin,
    come_back,
    expired_by,
    new_key,
    query_of,
    running_issuer,
    sign_in_through,
)
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.commands.access import register as register_access
from orderops.commands.sso import register as register_sso
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.sso import ClaimRule, InvalidSsoSettings, SsoSettings, role_for
from orderops.storage.tables import AuditRecord
from orderops.storage.tables.sso import SsoConfig, SsoLogin, UserIdentity
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.sso_config import set_sso, show_sso
from orderops.tenancy.users import disable_user, list_users

SECRET = "acme-client-secret-0123"
RULES = (ClaimRule.parse("groups=ops-leads:approver"), ClaimRule.parse("groups=ops:agent"))


@pytest.fixture
def issuer(clock: FixedClock) -> Iterator[Issuer]:
    with running_issuer(clock) as running:
        yield running


def configure(
    app: App,
    clock: FixedClock,
    issuer: Issuer,
    *,
    tenant: str = "acme",
    provision: bool = True,
    allow_passwords: bool = True,
) -> str:
    """Single sign-on for ``tenant`` through ``issuer``, its client registered there."""
    client_id, secret = f"orderops-{tenant}", f"{tenant}-client-secret-0123"
    issuer.register(client_id, secret)
    set_sso(
        app.sessions,
        tenant_id=tenant,
        settings=SsoSettings(
            display_name=f"{tenant.title()} Login",
            issuer=issuer.issuer,
            client_id=client_id,
            rules=RULES,
            provision=provision,
            allow_passwords=allow_passwords,
        ),
        client_secret=secret,
        secret_key=app.settings.secret_key,
        clock=clock,
        actor="test",
    )
    return client_id


class _Kept(App):
    """The test's app, handed to commands that close it when done (here: a no-op)."""

    def close(self) -> None:
        return None


def cli_for(app: App) -> typer.Typer:
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    cli = typer.Typer()
    register_access(cli, app_factory=lambda: kept)
    register_sso(cli, app_factory=lambda: kept)
    return cli


def browser(app: App) -> TestClient:
    return TestClient(create_app(app), follow_redirects=False)


@dataclass(frozen=True)
class Record:
    action: str
    actor: str
    data: dict[str, Any]


def audit(app: App, tenant: str = "acme") -> list[Record]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = uow.session.scalars(
            select(AuditRecord).where(AuditRecord.tenant_id == tenant).order_by(AuditRecord.seq)
        )
        return [Record(r.action, r.actor, r.data) for r in rows]


def refusals(app: App, tenant: str = "acme") -> list[str]:
    return [r.data["reason"] for r in audit(app, tenant) if r.action == "user.sso_refused"]


def assert_refused(answer: Any, status: int, words: str, console: TestClient) -> None:
    assert answer.status_code == status, answer.text
    assert words in answer.text
    assert "oo_session" not in answer.cookies
    assert console.get("/console/queues").status_code == 303  # still signed out


# -- signing in ----------------------------------------------------------------------


def test_a_person_in_a_mapped_group_is_provisioned_with_its_role_and_signed_in(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    console = browser(app)

    authorize = begin(console, "acme", next_path="/console/dashboards")
    sent = query_of(authorize)
    assert authorize.startswith(f"{issuer.issuer}/authorize?")
    assert sent["client_id"] == "orderops-acme"
    assert sent["code_challenge_method"] == "S256"
    assert len(sent["code_challenge"]) == 43
    assert len(sent["state"]) >= 32
    assert len(sent["nonce"]) >= 32
    assert sent["redirect_uri"] == "http://testserver/console/sso/callback"
    assert set(sent["scope"].split()) == {"openid", "email", "profile"}

    answer = come_back(console, approve(authorize))

    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/dashboards"
    assert console.get("/console/queues").status_code == 200
    (user,) = list_users(app.sessions, tenant_id="acme")
    assert (user.email, user.role, user.display_name) == (
        "pat@acme.example",
        Role.APPROVER,
        "Pat Lead",
    )
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (link,) = uow.session.scalars(select(UserIdentity))
        assert (link.user_id, link.issuer, link.subject) == (
            user.id,
            issuer.issuer,
            issuer.person.sub,
        )
    added, linked, signed = audit(app)[-3:]
    assert (added.action, added.actor, added.data["provisioned_by"]) == (
        "user.added",
        "system:sso",
        "sso",
    )
    assert (linked.action, linked.data["subject"]) == ("user.sso_linked", issuer.person.sub)
    assert (signed.action, signed.actor, signed.data["method"]) == (
        "user.signed_in",
        f"user:{user.id}",
        "sso",
    )


def test_the_same_person_signs_in_again_as_the_same_user_with_the_role_their_groups_give(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    assert sign_in_through(browser(app), "acme").status_code == 303
    issuer.person.groups = ["ops"]  # moved to another group at the provider

    assert sign_in_through(browser(app), "acme").status_code == 303

    (user,) = list_users(app.sessions, tenant_id="acme")
    assert user.role == Role.AGENT
    changed = [r for r in audit(app) if r.action == "user.role_changed"]
    assert [(r.actor, r.data["from"], r.data["to"]) for r in changed] == [
        ("system:sso", "approver", "agent")
    ]


def test_the_sign_in_page_offers_the_tenants_provider_and_only_where_there_is_one(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    console = browser(app)

    login = console.get("/console/login")
    offered = console.get("/console/sso", params={"tenant": "acme"})
    elsewhere = console.get("/console/sso", params={"tenant": "globex"})
    nowhere = console.get("/console/sso/start", params={"tenant": "nowhere"})

    assert 'href="/console/sso?next=' in login.text
    assert offered.status_code == 200
    assert "Sign in with Acme Login" in offered.text
    assert 'href="/console/sso/start?tenant=acme&amp;next=' in offered.text
    assert elsewhere.status_code == 404
    assert "does not sign in with single sign-on" in elsewhere.text
    assert nowhere.status_code == 404


# -- the callback must belong to this browser's sign-in ------------------------------


def test_a_callback_carrying_another_state_is_refused(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    console = browser(app)
    back = approve(begin(console, "acme"))
    forged = back.replace(f"state={query_of(back)['state']}", "state=attacker-state")

    answer = come_back(console, forged)

    assert_refused(answer, 400, "does not belong to the sign-in this browser started", console)
    assert refusals(app) == ["state-mismatch"]
    assert list_users(app.sessions, tenant_id="acme") == []


def test_a_replayed_callback_is_refused_even_with_the_sign_in_cookie(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    console = browser(app)
    authorize = begin(console, "acme")
    cookie = console.cookies.get("oo_sso")
    back = approve(authorize)
    assert come_back(console, back).status_code == 303

    replayer = browser(app)
    assert cookie is not None
    replayer.cookies.set("oo_sso", cookie, path="/console/sso")
    answer = come_back(replayer, back)

    assert_refused(answer, 400, "already used", replayer)
    assert refusals(app) == ["state-replayed"]


def test_a_callback_in_a_browser_that_did_not_start_the_sign_in_is_refused(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    back = approve(begin(browser(app), "acme"))
    other = browser(app)

    assert_refused(come_back(other, back), 400, "not started in this browser", other)


def test_a_sign_in_older_than_ten_minutes_is_refused(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    console = browser(app)
    back = approve(begin(console, "acme"))
    clock.advance(timedelta(minutes=11))

    assert_refused(come_back(console, back), 400, "took too long", console)
    assert refusals(app) == ["expired"]


# -- the ID token must be the provider's, for us, now, for this sign-in ---------------


@pytest.mark.parametrize(
    ("tamper", "reason", "words"),
    [
        (lambda i: i.claims.update(nonce="another-sign-ins-nonce"), "nonce", "(nonce)"),
        (lambda i: setattr(i, "sign_with", new_key()), "signature", "signature"),
        (
            lambda i: i.claims.update(expired_by(i.clock, timedelta(minutes=10))),
            "expired",
            "has expired",
        ),
        (lambda i: i.claims.update(aud="someone-elses-client"), "aud", "audience"),
        (lambda i: i.claims.update(iss="https://evil.example/realms/x"), "iss", "issuer"),
        (lambda i: i.claims.update(sub=None), "missing-claims", "lacks required claims"),
    ],
    ids=["nonce", "forged-signature", "expired", "wrong-audience", "wrong-issuer", "no-sub"],
)
def test_an_id_token_that_fails_a_check_is_refused(
    app: App, clock: FixedClock, issuer: Issuer, tamper: Any, reason: str, words: str
) -> None:
    configure(app, clock, issuer)
    tamper(issuer)
    console = browser(app)

    answer = sign_in_through(console, "acme")

    assert_refused(answer, 403, words, console)
    assert refusals(app) == [reason]
    assert list_users(app.sessions, tenant_id="acme") == []


def test_a_token_within_the_clock_leeway_is_accepted(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    # issued 5 min 30 s ago, so it expired 30 s ago: within the 60 s leeway
    issuer.claims.update(expired_by(clock, timedelta(minutes=5, seconds=30)))

    assert sign_in_through(browser(app), "acme").status_code == 303


def test_a_code_obtained_with_another_pkce_challenge_is_refused_by_the_provider(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    """An attacker who swaps the challenge in the authorization request gets a code the
    console's verifier cannot redeem: the provider refuses the exchange."""
    configure(app, clock, issuer)
    console = browser(app)
    authorize = begin(console, "acme")
    sent = query_of(authorize)
    swapped = {**sent, "code_challenge": "A" * 43}
    back = approve(f"{issuer.issuer}/authorize?{urlencode(swapped)}")

    answer = come_back(console, back)

    assert_refused(answer, 403, "refused to complete the sign-in (invalid_grant)", console)
    assert issuer.token_refusals == ["invalid_grant"]
    assert refusals(app) == ["sso-code-refused"]


# -- who may come in -----------------------------------------------------------------


def test_a_person_whose_groups_map_to_no_role_is_refused(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    issuer.person.groups = ["marketing"]
    console = browser(app)

    answer = sign_in_through(console, "acme")

    assert_refused(answer, 403, "none of this tenant&#39;s rules gives you a role", console)
    assert refusals(app) == ["no-role"]
    assert list_users(app.sessions, tenant_id="acme") == []


def test_a_disabled_user_is_refused(app: App, clock: FixedClock, issuer: Issuer) -> None:
    configure(app, clock, issuer)
    assert sign_in_through(browser(app), "acme").status_code == 303
    (user,) = list_users(app.sessions, tenant_id="acme")
    disable_user(app.sessions, tenant_id="acme", user_id=user.id, clock=clock, actor="test")
    console = browser(app)

    answer = sign_in_through(console, "acme")

    assert_refused(answer, 403, "Your account here is disabled", console)
    assert refusals(app) == ["disabled"]


def test_an_unknown_person_is_refused_when_the_tenant_does_not_provision(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer, provision=False)
    console = browser(app)

    assert_refused(sign_in_through(console, "acme"), 403, "no account here yet", console)
    assert refusals(app) == ["not-provisioned"]


def test_an_existing_account_is_linked_by_email_only_when_the_provider_verified_it(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer, provision=False)
    local = console_person(app, clock, role=Role.VIEWER, name="pat")  # pat@acme.example
    issuer.person.email_verified = False
    console = browser(app)

    assert_refused(sign_in_through(console, "acme"), 403, "has not verified", console)

    issuer.person.email_verified = True
    assert sign_in_through(console, "acme").status_code == 303
    (user,) = list_users(app.sessions, tenant_id="acme")
    assert (user.id, user.role) == (local.user_id, Role.APPROVER)
    assert refusals(app) == ["unverified-email"]


# -- tenants do not mix --------------------------------------------------------------


def test_another_tenants_provider_cannot_sign_anyone_into_this_tenant(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    """One provider serving two tenants (two clients): globex's sign-in answer, delivered
    to a browser signing in to acme, is refused; so is a token minted for globex's client
    during acme's sign-in. Nobody appears in acme, and globex's own sign-in works."""
    configure(app, clock, issuer, tenant="acme")
    configure(app, clock, issuer, tenant="globex")
    victim = browser(app)
    begin(victim, "acme")  # victim's browser now holds acme's sign-in cookie
    globex_answer = approve(begin(browser(app), "globex"))

    assert_refused(come_back(victim, globex_answer), 400, "does not belong", victim)

    issuer.claims.update(aud="orderops-globex")
    console = browser(app)
    assert_refused(sign_in_through(console, "acme"), 403, "audience", console)
    assert list_users(app.sessions, tenant_id="acme") == []

    issuer.claims.clear()
    assert sign_in_through(browser(app), "globex").status_code == 303
    (person,) = list_users(app.sessions, tenant_id="globex")
    assert person.email == "pat@acme.example"
    assert list_users(app.sessions, tenant_id="acme") == []


# -- leaving -------------------------------------------------------------------------


def test_sign_out_ends_the_session_and_sends_the_browser_to_the_providers_logout(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    console = browser(app)
    assert sign_in_through(console, "acme").status_code == 303

    answer = post_form(console, "/console/queues", "/console/logout")

    assert answer.status_code == 200  # type: ignore[attr-defined]
    page = answer.text  # type: ignore[attr-defined]
    (url,) = [
        part.split('"')[0].replace("&amp;", "&")
        for part in page.split('id="provider-logout" href="')[1:]
    ]
    assert f'content="0; url={url.replace("&", "&amp;")}"' in page
    assert url.startswith(f"{issuer.issuer}/logout?")
    assert query_of(url) == {
        "id_token_hint": issuer.issued[-1],
        "client_id": "orderops-acme",
        "post_logout_redirect_uri": "http://testserver/console/login",
    }
    assert console.get("/console/queues").status_code == 303
    assert [r.data["issuer_logout"] for r in audit(app) if r.action == "user.signed_out"] == [True]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (login,) = uow.session.scalars(select(SsoLogin))
        assert login.id_token_ciphertext is None  # kept only until it served as the hint


def test_sign_out_without_an_end_session_endpoint_returns_to_the_sign_in_page(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    issuer.end_session = False
    configure(app, clock, issuer)
    console = browser(app)
    assert sign_in_through(console, "acme").status_code == 303

    answer = post_form(console, "/console/queues", "/console/logout")

    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert answer.headers["location"] == "/console/login"  # type: ignore[attr-defined]
    assert console.get("/console/queues").status_code == 303


# -- passwords beside single sign-on, and an unreachable provider ---------------------


def test_a_tenant_that_allows_no_passwords_refuses_them_before_checking_any(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    configure(app, clock, issuer, allow_passwords=False)
    console = browser(app)
    login = console.get("/console/login")

    answer = console.post(
        "/console/login",
        data={
            "csrf": csrf_of(login.text),
            "tenant": "acme",
            "email": person.email,
            "password": PASSWORD,
        },
    )

    assert answer.status_code == 401
    assert "signs in with single sign-on only" in answer.text
    assert not [r for r in audit(app) if r.action == "user.sign_in_failed"]


def test_an_unreachable_provider_is_a_clear_page_not_an_error(
    app: App, clock: FixedClock, issuer: Issuer
) -> None:
    configure(app, clock, issuer)
    issuer.base_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    set_sso(
        app.sessions,
        tenant_id="acme",
        settings=SsoSettings(
            display_name="Gone", issuer=issuer.issuer, client_id="orderops-acme", rules=RULES
        ),
        client_secret=None,
        secret_key=app.settings.secret_key,
        clock=clock,
        actor="test",
    )

    answer = browser(app).get("/console/sso/start", params={"tenant": "acme"})

    assert answer.status_code == 502
    assert "could not be fetched" in answer.text


# -- the command line ----------------------------------------------------------------


def test_sso_set_show_remove_from_the_command_line_keep_the_secret_sealed(
    app: App, issuer: Issuer
) -> None:
    cli, runner = cli_for(app), CliRunner()
    issuer.register("orderops-acme", SECRET)
    set_args = [
        "sso",
        "set",
        "-t",
        "acme",
        "--issuer",
        issuer.issuer,
        "--client-id",
        "orderops-acme",
        "--name",
        "Acme Login",
        "--map",
        "groups=ops-leads:approver",
        "--map",
        "groups=ops:agent",
        "--provision",
        "--no-passwords",
        "--secret-stdin",
    ]

    created = runner.invoke(cli, set_args, input=SECRET + "\n")
    shown = runner.invoke(cli, ["sso", "show", "-t", "acme", "--base-url", "https://desk.example"])
    bad_rule = runner.invoke(cli, [*set_args[:-1], "--map", "groups=x:service"])

    assert created.exit_code == 0, created.output
    assert "discovery ok" in created.output
    assert shown.exit_code == 0, shown.output
    assert "https://desk.example/console/sso/callback" in shown.output
    assert "role rule 2:      groups=ops:agent" in shown.output
    assert "local passwords:  refused" in shown.output
    assert bad_rule.exit_code == 1
    assert "no rule may grant 'service'" in bad_rule.output
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (row,) = uow.session.scalars(select(SsoConfig))
        assert SECRET not in row.client_secret_ciphertext
    records = [r for r in audit(app) if r.action.startswith("sso.")]
    assert [r.action for r in records] == ["sso.configured"]
    assert records[0].data["secret_changed"] is True
    assert SECRET not in str([r.data for r in audit(app)])
    assert SECRET not in created.output + shown.output

    # the stored secret works: a sign-in through the provider succeeds
    assert sign_in_through(browser(app), "acme").status_code == 303

    removed = runner.invoke(cli, ["sso", "remove", "-t", "acme"])
    assert removed.exit_code == 0, removed.output
    assert show_sso(app.sessions, tenant_id="acme") is None
    assert [r.action for r in audit(app) if r.action.startswith("sso.")][-1] == "sso.removed"


# -- the tenant's rules (pure) -------------------------------------------------------


def test_the_first_rule_a_persons_claims_match_gives_the_role() -> None:
    rules = (
        ClaimRule.parse("groups=ops-leads:approver"),
        ClaimRule.parse("department=support:agent"),
        ClaimRule.parse("groups=urn:acme:ops:viewer"),  # a value may contain colons
    )

    assert role_for({"groups": ["ops", "ops-leads"], "department": "support"}, rules) == (
        Role.APPROVER
    )
    assert role_for({"groups": ["ops"], "department": "support"}, rules) == Role.AGENT
    assert role_for({"groups": "urn:acme:ops"}, rules) == Role.VIEWER
    assert role_for({"groups": [["ops-leads"]], "department": 7}, rules) is None
    assert role_for({}, rules) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("groups=ops:service", "no rule may grant 'service'"),
        ("groups=ops:lead", "unknown role 'lead'"),
        ("groups:approver", "claim=value:role"),
        ("=ops:approver", "claim=value:role"),
    ],
)
def test_a_rule_that_could_not_mean_one_human_role_is_refused(text: str, words: str) -> None:
    with pytest.raises(InvalidSsoSettings, match=re.escape(words)):
        ClaimRule.parse(text)


@pytest.mark.parametrize(
    ("issuer", "scopes", "rules", "words"),
    [
        ("http://idp.example/realms/a", ("openid",), RULES, "must use https"),
        ("https://idp.example/a?x=1", ("openid",), RULES, "without query or fragment"),
        ("https://idp.example/a", ("email",), RULES, "must include 'openid'"),
        ("https://idp.example/a", ("openid",), (), "at least one role rule"),
    ],
)
def test_settings_that_would_not_sign_anyone_in_safely_are_refused(
    issuer: str, scopes: tuple[str, ...], rules: tuple[ClaimRule, ...], words: str
) -> None:
    with pytest.raises(InvalidSsoSettings, match=re.escape(words)):
        SsoSettings(display_name="X", issuer=issuer, client_id="c", scopes=scopes, rules=rules)
