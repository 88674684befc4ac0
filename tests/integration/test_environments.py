"""An account's live and test environments: tenants of their own, so their data, keys and
sources never mix, with no filter of their own anywhere; every API answer says which
environment the key belongs to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

from builders.access import api_with_decisions, key_for, late_case
from builders.database_roles import APP_LOGIN, as_login, owner_sessions
from builders.webhooks import post, stripe_event
from orderops.bootstrap import App, bootstrap
from orderops.commands.tenancy import register
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.domain.environments import Environment, read_tenant_id, tenant_id_for
from orderops.domain.roles import Role
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.tables import InboxEvent, Tenant
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import (
    EnvironmentTaken,
    authenticate,
    create_account,
    ensure_tenant,
)

LIVE, TEST = "shop", "shop.test"
SIGNING = {
    LIVE: "whsec_live_signing_secret_0123456789abcdef",
    TEST: "whsec_test_signing_0123456789abcdefghijk",
}


@pytest.fixture
def shop(app: App, clock: FixedClock) -> App:
    create_account(app.sessions, account_id="shop", name="Shop", clock=clock)
    return app


@pytest.fixture
def http(shop: App) -> Iterator[TestClient]:
    with TestClient(api_with_decisions(shop)) as client:
        yield client


def bearer(app: App, clock: FixedClock, tenant: str, role: Role = Role.ADMIN) -> dict[str, str]:
    secret = key_for(app, tenant_id=tenant, name="k", role=role, clock=clock).secret
    return {"Authorization": f"Bearer {secret}"}


def case_ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# --- accounts and their environments ------------------------------------------------------


def test_an_account_gets_a_live_and_a_test_tenant(shop: App) -> None:
    with owner_sessions(shop)() as session:
        rows = session.execute(
            select(Tenant.id, Tenant.account_id, Tenant.environment, Tenant.name)
            .where(Tenant.account_id == "shop")
            .order_by(Tenant.id)
        ).all()

    assert [tuple(r) for r in rows] == [
        ("shop", "shop", "live", "Shop"),
        ("shop.test", "shop", "test", "Shop (test)"),
    ]


def test_every_tenant_from_before_environments_is_its_own_accounts_live_one(app: App) -> None:
    with owner_sessions(app)() as session:
        acme = session.get(Tenant, "acme")
        assert acme is not None
        assert (acme.account_id, acme.environment) == ("acme", "live")


def test_creating_an_account_again_creates_nothing(shop: App, clock: FixedClock) -> None:
    again = create_account(shop.sessions, account_id="shop", name="Shop", clock=clock)

    assert [(e.tenant_id, e.created) for e in again] == [(LIVE, False), (TEST, False)]


def test_an_environment_cannot_take_a_tenant_that_is_something_else(
    app: App, clock: FixedClock
) -> None:
    ensure_tenant(
        app.sessions,
        tenant_id="mart.test",
        name="x",
        clock=clock,
        account_id="mart.test",
        environment=Environment.LIVE,
    )

    with pytest.raises(EnvironmentTaken, match="already exists as the live environment"):
        create_account(
            app.sessions,
            account_id="mart",
            name="Mart",
            clock=clock,
            environments=(Environment.TEST,),
        )


def test_tenant_ids_name_their_environment_both_ways() -> None:
    assert tenant_id_for("shop", Environment.TEST) == "shop.test"
    assert read_tenant_id("shop.test") == ("shop", Environment.TEST)
    assert read_tenant_id("shop") == ("shop", Environment.LIVE)
    assert read_tenant_id("example.com") == ("example.com", Environment.LIVE)
    assert read_tenant_id("a.b.test") == ("a.b.test", Environment.LIVE)


class _Kept(App):
    def close(self) -> None:
        return None


def tenant_cli(app: App) -> typer.Typer:
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    cli, tenant = typer.Typer(), typer.Typer()
    cli.add_typer(tenant, name="tenant")
    register(tenant, app_factory=lambda: kept)
    return cli


def test_the_command_creates_both_environments_or_the_one_asked_for(app: App) -> None:
    cli, runner = tenant_cli(app), CliRunner()

    both = runner.invoke(cli, ["tenant", "create", "mart", "--name", "Mart"])
    one = runner.invoke(cli, ["tenant", "create", "kiosk", "--environment", "test"])
    dotted = runner.invoke(cli, ["tenant", "create", "kiosk.test"])

    assert both.exit_code == 0, both.output
    assert "tenant mart created (live environment of account mart)" in both.output
    assert "tenant mart.test created (test environment of account mart)" in both.output
    assert one.exit_code == 0, one.output
    with owner_sessions(app)() as session:
        kiosk = session.scalars(select(Tenant.id).where(Tenant.account_id == "kiosk")).all()
    assert kiosk == ["kiosk.test"]
    assert dotted.exit_code == 1
    assert "account id 'kiosk.test' must be" in dotted.output


# --- keys ------------------------------------------------------------------------------------


def test_a_key_says_its_environment_and_so_does_every_answer_to_it(
    http: TestClient, shop: App, clock: FixedClock
) -> None:
    live = bearer(shop, clock, LIVE, Role.VIEWER)
    test = bearer(shop, clock, TEST, Role.VIEWER)

    answers = {
        "live": http.get("/v1/cases", headers=live),
        "test": http.get("/v1/cases", headers=test),
        "test 404": http.get("/v1/cases/nope", headers=test),
        "test 403": http.get("/v1/admin/keys", headers=test),
    }

    assert live["Authorization"].startswith("Bearer oo_live_")
    assert test["Authorization"].startswith("Bearer oo_test_")
    assert {name: a.headers.get("OrderOps-Environment") for name, a in answers.items()} == {
        "live": "live",
        "test": "test",
        "test 404": "test",
        "test 403": "test",
    }
    assert (answers["test 404"].status_code, answers["test 403"].status_code) == (404, 403)
    assert authenticate(shop.sessions, test["Authorization"][7:]).environment is Environment.TEST


def test_an_answer_to_no_key_names_no_environment(http: TestClient) -> None:
    assert "OrderOps-Environment" not in http.get("/v1/cases").headers
    assert "OrderOps-Environment" not in http.get("/healthz").headers


def test_a_test_key_cannot_read_live_data_and_a_live_key_cannot_read_test_data(
    http: TestClient, shop: App, clock: FixedClock
) -> None:
    live_case = late_case(shop, clock, tenant=LIVE)
    test_case = late_case(shop, clock, tenant=TEST)
    live, test = bearer(shop, clock, LIVE, Role.VIEWER), bearer(shop, clock, TEST, Role.VIEWER)

    seen_live = case_ids(http.get("/v1/cases", headers=live))
    seen_test = case_ids(http.get("/v1/cases", headers=test))

    assert live_case in seen_live
    assert test_case in seen_test
    assert set(seen_live).isdisjoint(seen_test)
    assert http.get(f"/v1/cases/{live_case}", headers=test).status_code == 404
    assert http.get(f"/v1/cases/{test_case}", headers=live).status_code == 404
    assert http.get(f"/v1/cases/{live_case}", headers=live).status_code == 200


# --- sources ---------------------------------------------------------------------------------


def test_each_environment_has_its_own_webhook_url_and_secret(
    http: TestClient, shop: App, clock: FixedClock
) -> None:
    tokens = {
        tenant: connect_source(
            shop.sessions,
            tenant_id=tenant,
            source=WebhookSource.STRIPE,
            box=SecretBox(shop.settings.secret_key),
            clock=clock,
            actor="test",
            secret=SIGNING[tenant],
        ).connection.endpoint_token
        for tenant in (LIVE, TEST)
    }
    delivery = stripe_event("payment_intent.succeeded", created=clock.now())

    into_test = post(http, delivery, token=tokens[TEST], secret=SIGNING[TEST], now=clock.now())
    live_secret_on_test_url = post(
        http,
        stripe_event("payment_intent.succeeded", created=clock.now()),
        token=tokens[TEST],
        secret=SIGNING[LIVE],
        now=clock.now(),
    )

    assert tokens[LIVE] != tokens[TEST]
    assert into_test.status_code == 202, into_test.text
    assert live_secret_on_test_url.status_code == 401
    with owner_sessions(shop)() as session:
        tenants = session.scalars(select(InboxEvent.tenant_id).distinct()).all()
    assert tenants == [TEST]


@pytest.fixture
def shop_as_login(postgres_owner_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[App]:
    """PostgreSQL only: the app as a login of the app role, under row-level security."""
    settings = Settings(
        database_url=as_login(postgres_owner_url, APP_LOGIN),
        migration_database_url=postgres_owner_url,
        data_dir=tmp_path,
        demo_mode=True,
    )
    app = bootstrap(settings, clock=clock)
    create_account(app.sessions, account_id="shop", name="Shop", clock=clock)
    yield app
    app.close()


@pytest.mark.postgres
def test_row_level_security_alone_keeps_a_test_environment_from_live_rows(
    shop_as_login: App, clock: FixedClock
) -> None:
    late_case(shop_as_login, clock, tenant=LIVE)
    late_case(shop_as_login, clock, tenant=TEST)

    with UnitOfWork(shop_as_login.sessions, tenant_id=TEST, write=False) as uow:
        # Plain SQL, no tenant filter and no ORM guard: only the policies answer.
        seen = uow.session.execute(text("SELECT DISTINCT tenant_id FROM cases")).scalars().all()
    with shop_as_login.engine.connect() as connection:
        unbound = connection.execute(text("SELECT count(*) FROM cases")).scalar_one()

    assert seen == [TEST]
    assert unbound == 0
