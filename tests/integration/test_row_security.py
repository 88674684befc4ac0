"""Tenant isolation below the repositories, table by table.

A repository that forgets ``WHERE tenant_id = ..`` must still not show one tenant another's
rows. On PostgreSQL the database refuses: the application connects as a login of the app
role, which owns nothing and does not bypass row-level security, and every tenant-owned
table admits only the rows of the tenant the transaction is bound to (migration 0021). On
both databases the unit of work's ORM guard (``storage/tenant_guard.py``) adds the filter
itself, the only guard SQLite has. Rows are built from the metadata, so a table added
later is covered without a line here, and one added without a policy fails by name.

The paths that must cross tenants (a webhook URL, an API key, a console cookie, the
worker's drain, the lag gauges) are shown working as the app role, through their named
lookups.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Connection, Engine, Table, create_engine, func, insert, select, text, update
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import sessionmaker

from builders.access import api_with_decisions, key_for, person
from builders.console import console_person, signed_in
from builders.database_roles import (
    APP_LOGIN,
    PG_URL,
    as_login,
    ensure_role,
    postgres_clone,
)
from builders.events import order_placed, payment
from builders.tenant_rows import (
    AT,
    SHARED_TABLES,
    TENANT_OWNED_TABLES,
    Built,
    build_rows,
    insert_rows,
    mapped_class_of,
    row_for,
)
from builders.webhooks import post as post_webhook
from builders.webhooks import shopify, shopify_order, webhook_client
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.domain.errors import Unauthorized
from orderops.domain.roles import Role
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.ingest.intake import Outcome, accept_items
from orderops.storage.base import Base
from orderops.storage.engine import make_engine, make_session_factory
from orderops.storage.migrate import upgrade
from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.tables import InboxEvent, Tenant
from orderops.storage.tenant_guard import ForeignTenantWrite
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import authenticate, ensure_tenant
from orderops.workflow.lag import inbox_lag
from orderops.workflow.worker import drain_inbox, tenants_with_pending

A, B = "acme", "globex"
TABLES = pytest.mark.parametrize("table", TENANT_OWNED_TABLES, ids=lambda t: t.name)
postgres = pytest.mark.postgres


@dataclass
class Seeded:
    """One row for each of A and B in every tenant-owned table."""

    owner: Engine
    built: Built

    def row(self, tenant: str, table: Table) -> dict[str, Any]:
        return self.built[tenant][table.name]


def _seed(owner: Engine) -> Seeded:
    built = build_rows((A, B))
    with owner.begin() as connection:
        connection.execute(
            insert(Tenant),
            [{"id": t, "name": t, "created_at": AT} for t in (A, B)],
        )
        insert_rows(connection, built)
    return Seeded(owner, built)


@pytest.fixture(scope="module")
def seeded_postgres(postgres_template: str) -> Iterator[Seeded]:
    with postgres_clone(postgres_template) as url:
        owner = create_engine(url)
        try:
            yield _seed(owner)
        finally:
            owner.dispose()


@pytest.fixture(scope="module")
def app_login(seeded_postgres: Seeded) -> Iterator[Engine]:
    """The seeded database as the application connects to it."""
    url = seeded_postgres.owner.url.render_as_string(hide_password=False)
    engine = create_engine(as_login(url, APP_LOGIN))
    yield engine
    engine.dispose()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    """For the ORM guard alone: on PostgreSQL as the superuser owner, whom row-level
    security does not restrict, so only the guard stands between the tenants."""
    if request.param == "postgres":
        yield request.getfixturevalue("seeded_postgres")
        return
    path = tmp_path_factory.mktemp("guard") / "orderops.db"
    owner = make_engine(f"sqlite:///{path}")
    upgrade(owner)
    try:
        yield _seed(owner)
    finally:
        owner.dispose()


def _bound(connection: Connection, tenant: str) -> None:
    connection.execute(
        text("SELECT set_config('orderops.tenant_id', :tenant, true)"), {"tenant": tenant}
    )


# --- the policies exist, and their absence is caught ----------------------------------------


def test_every_table_is_tenant_owned_or_one_of_the_named_shared_tables() -> None:
    shared = {name for name, table in Base.metadata.tables.items() if "tenant_id" not in table.c}
    assert shared == SHARED_TABLES


def unprotected(connection: Connection) -> list[str]:
    """Tables with a ``tenant_id`` (in the database or the models) that lack forced
    row-level security or the tenant policy for every command."""
    protected = set(
        connection.scalars(
            text(
                """
                SELECT c.relname FROM pg_class c
                  JOIN pg_policies p ON p.schemaname = current_schema() AND p.tablename = c.relname
                 WHERE c.relnamespace = current_schema()::regnamespace
                   AND c.relrowsecurity AND c.relforcerowsecurity
                   AND p.policyname = 'tenant_isolation' AND p.cmd = 'ALL'
                   AND p.qual LIKE '%tenant_id%current_setting(''orderops.tenant_id''%'
                   AND p.with_check LIKE '%tenant_id%current_setting(''orderops.tenant_id''%'
                """
            )
        )
    )
    with_tenant = set(
        connection.scalars(
            text(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = 'tenant_id'"
            )
        )
    )
    expected = with_tenant | {table.name for table in TENANT_OWNED_TABLES}
    return sorted(expected - protected)


@postgres
def test_every_tenant_owned_table_has_forced_row_security_and_the_tenant_policy(
    seeded_postgres: Seeded,
) -> None:
    with seeded_postgres.owner.connect() as connection:
        assert unprotected(connection) == []


@postgres
def test_a_tenant_owned_table_without_the_policy_is_named(postgres_owner_url: str) -> None:
    engine = create_engine(postgres_owner_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE widgets (id text, tenant_id text)"))
            connection.execute(text("ALTER TABLE orders NO FORCE ROW LEVEL SECURITY"))
            assert unprotected(connection) == ["orders", "widgets"]
    finally:
        engine.dispose()


@postgres
def test_the_app_login_owns_nothing_and_bypasses_nothing(app_login: Engine) -> None:
    with app_login.connect() as connection:
        role = connection.execute(
            text(
                "SELECT rolsuper, rolbypassrls, pg_has_role(current_user, 'orderops_app', "
                "'MEMBER') FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
        owned = connection.scalar(
            text("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
        )
    assert tuple(role) == (False, False, True)
    assert owned == 0


# --- row-level security, table by table, as the app role ------------------------------------


@postgres
@TABLES
def test_a_transaction_bound_to_a_tenant_reads_only_its_rows(
    seeded_postgres: Seeded, app_login: Engine, table: Table
) -> None:
    everyone = select(table.c.tenant_id)
    with seeded_postgres.owner.connect() as connection:
        assert sorted(connection.scalars(everyone)) == [A, B]  # B's row is there to leak
    with app_login.connect() as connection:
        _bound(connection, A)
        assert list(connection.scalars(everyone)) == [A]
        connection.rollback()
        _bound(connection, B)
        assert list(connection.scalars(everyone)) == [B]


@postgres
@TABLES
def test_with_no_tenant_bound_no_row_is_visible(app_login: Engine, table: Table) -> None:
    with app_login.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(table)) == 0


@postgres
@TABLES
def test_a_row_of_another_tenant_cannot_be_written(
    seeded_postgres: Seeded, app_login: Engine, table: Table
) -> None:
    foreign = row_for(table, B, seeded_postgres.built[B])
    with app_login.connect() as connection:
        _bound(connection, A)
        with pytest.raises(ProgrammingError, match="row-level security"):
            connection.execute(insert(table).values(foreign))
        connection.rollback()
        _bound(connection, A)
        unfiltered = connection.execute(update(table).values(tenant_id=table.c.tenant_id))
        assert unfiltered.rowcount == 1  # A's row, not B's
        with pytest.raises(ProgrammingError, match="row-level security"):
            connection.execute(update(table).values(tenant_id=B))
        connection.rollback()


# --- the ORM guard, table by table, on both databases ---------------------------------------


def _unit_of_work(seeded: Seeded, tenant: str) -> UnitOfWork:
    return UnitOfWork(make_session_factory(seeded.owner), tenant_id=tenant)


@TABLES
def test_the_orm_guard_returns_only_the_bound_tenants_rows(seeded: Seeded, table: Table) -> None:
    model = mapped_class_of(table)
    other = _identity(model, seeded.row(B, table))
    with sessionmaker(seeded.owner)() as unguarded:
        assert sorted(unguarded.scalars(select(model.tenant_id))) == [A, B]
        assert unguarded.get(model, other) is not None
    with _unit_of_work(seeded, A) as uow:
        assert [row.tenant_id for row in uow.session.scalars(select(model))] == [A]
        assert uow.session.scalar(select(func.count()).select_from(model)) == 1
        assert uow.session.get(model, other) is None
        unfiltered = uow.session.execute(
            update(model).values(tenant_id=model.tenant_id),
            execution_options={"synchronize_session": False},
        )
        assert unfiltered.rowcount == 1  # type: ignore[attr-defined]


@TABLES
def test_the_orm_guard_refuses_to_write_another_tenants_row(seeded: Seeded, table: Table) -> None:
    model = mapped_class_of(table)
    with _unit_of_work(seeded, A) as uow:
        uow.session.add(_instance(model, row_for(table, B, seeded.built[B])))
        with pytest.raises(ForeignTenantWrite, match=f"tenant 'acme'.*{model.__name__}"):
            uow.session.flush()


def _identity(model: type[Any], row: dict[str, Any]) -> tuple[Any, ...]:
    mapper = model.__mapper__
    return tuple(row[column.name] for column in mapper.primary_key)


def _instance(model: type[Any], row: dict[str, Any]) -> Any:
    mapper = model.__mapper__
    return model(
        **{mapper.get_property_by_column(model.__table__.c[name]).key: v for name, v in row.items()}
    )


# --- the paths that cross tenants, as the app role ------------------------------------------


@pytest.fixture
def app_as_login(postgres_owner_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[App]:
    settings = Settings(
        database_url=as_login(postgres_owner_url, APP_LOGIN),
        migration_database_url=postgres_owner_url,
        data_dir=tmp_path,
        demo_mode=True,
    )
    app = bootstrap(settings, clock=clock)
    for tenant in (A, B):
        ensure_tenant(app.sessions, tenant_id=tenant, name=tenant, clock=clock)
    yield app
    app.close()


def _accept_order(app: App, clock: FixedClock, tenant: str, order_ref: str) -> None:
    at = clock.now() - timedelta(hours=1)
    items = [
        order_placed(order_ref, at=at),
        payment(order_ref, status="failed", at=at, payment_ref=f"pi_{order_ref}"),
    ]
    results = accept_items(app.sessions, tenant_id=tenant, items=items, channel="t", clock=clock)
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.ACCEPTED]


def _inbox(app: App, tenant: str) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        return sorted(uow.session.scalars(select(InboxEvent.status)))


@postgres
def test_a_webhook_finds_its_tenant_from_the_url_alone(
    app_as_login: App, clock: FixedClock
) -> None:
    secrets = {A: "a" * 40, B: "b" * 40}
    tokens = {
        tenant: connect_source(
            app_as_login.sessions,
            tenant_id=tenant,
            source=WebhookSource.SHOPIFY,
            box=SecretBox(app_as_login.settings.secret_key),
            clock=clock,
            actor="test",
            secret=secrets[tenant],
        ).connection.endpoint_token
        for tenant in (A, B)
    }
    with webhook_client(app_as_login) as client:
        for tenant in (A, B):
            delivery = shopify("orders/create", shopify_order())
            response = post_webhook(
                client, delivery, token=tokens[tenant], secret=secrets[tenant], now=clock.now()
            )
            assert response.status_code == 202, response.text
        wrong = post_webhook(client, delivery, token=tokens[A], secret=secrets[B], now=clock.now())
        assert wrong.status_code == 401
    assert _inbox(app_as_login, A) == _inbox(app_as_login, B)
    assert set(_inbox(app_as_login, A)) == {InboxStatus.PENDING}


@postgres
def test_an_api_key_and_a_console_session_find_their_tenant(
    app_as_login: App, clock: FixedClock
) -> None:
    _accept_order(app_as_login, clock, A, "o-a")
    keys = {
        tenant: key_for(app_as_login, tenant_id=tenant, name="k", role=Role.ADMIN, clock=clock)
        for tenant in (A, B)
    }
    assert authenticate(app_as_login.sessions, keys[B].secret, clock=clock).tenant_id == B
    with TestClient(api_with_decisions(app_as_login)) as client:
        figures = {
            tenant: client.get(
                "/v1/inbox/lag", headers={"Authorization": f"Bearer {keys[tenant].secret}"}
            ).json()
            for tenant in (A, B)
        }
    assert (figures[A]["tenant_id"], figures[A]["pending"]) == (A, 2)
    assert (figures[B]["tenant_id"], figures[B]["pending"]) == (B, 0)
    reviewer = console_person(app_as_login, clock, role=Role.AGENT, tenant=B)
    console = signed_in(app_as_login, reviewer)
    page = console.get("/console/queues")
    assert page.status_code == 200
    assert reviewer.name in page.text


@postgres
def test_the_worker_drains_every_tenant_and_the_gauges_count_each(
    app_as_login: App, clock: FixedClock
) -> None:
    _accept_order(app_as_login, clock, A, "o-a")
    _accept_order(app_as_login, clock, B, "o-b")
    lag = {row.tenant_id: row.pending for row in inbox_lag(app_as_login.sessions, now=clock.now())}
    assert lag == {A: 2, B: 2}
    with TestClient(api_with_decisions(app_as_login)) as client:
        scraped = {
            sample.labels["tenant"]: sample.value
            for family in text_string_to_metric_families(client.get("/metrics").text)
            if family.name == "orderops_inbox_pending"
            for sample in family.samples
        }
    assert scraped == {A: 2.0, B: 2.0}
    assert tenants_with_pending(app_as_login.sessions) == [A, B]
    drain_inbox(app_as_login)
    assert _inbox(app_as_login, A) == _inbox(app_as_login, B) == [InboxStatus.PROCESSED] * 2
    assert tenants_with_pending(app_as_login.sessions) == []


def test_a_key_two_tenants_share_names_neither(app: App, clock: FixedClock) -> None:
    # Keys are unique per tenant only (a database distributed by tenant keeps no
    # uniqueness across tenants); the lookup must not pick one of the two.
    shared = "oo_" + "s" * 40
    for tenant in (A, B):
        key_for(app, tenant_id=tenant, name="k", role=Role.ADMIN, clock=clock, secret=shared)
    alone = key_for(app, tenant_id=B, name="k2", role=Role.ADMIN, clock=clock).secret
    with pytest.raises(Unauthorized):
        authenticate(app.sessions, shared, clock=clock)
    assert authenticate(app.sessions, alone, clock=clock).tenant_id == B


# --- an owner that is not a superuser (FORCE) -----------------------------------------------

OWNER = "orderops_test_owner"


@pytest.fixture(scope="module")
def non_superuser_owner_url(postgres_template: str) -> Iterator[str]:
    """A database owned, and migrated from nothing, by a role that is neither superuser nor
    BYPASSRLS (nor CREATEROLE: the app group already exists), as managed services have."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        ensure_role(connection, OWNER, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE")
    with postgres_clone("template0") as superuser_url:
        with admin.connect() as connection:
            name = superuser_url.rsplit("/", 1)[1]
            # PostgreSQL 15+: public belongs to pg_database_owner, so to the new owner.
            connection.execute(text(f'ALTER DATABASE "{name}" OWNER TO "{OWNER}"'))
        url = as_login(superuser_url, OWNER)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    admin.dispose()


@postgres
def test_a_non_superuser_owner_running_the_app_is_held_to_the_policies_too(
    non_superuser_owner_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    settings = Settings(database_url=non_superuser_owner_url, data_dir=tmp_path, demo_mode=True)
    app = bootstrap(settings, clock=clock)
    try:
        for tenant in (A, B):
            ensure_tenant(app.sessions, tenant_id=tenant, name=tenant, clock=clock)
            person(app, clock, tenant=tenant, role=Role.ADMIN)
        secret = key_for(app, tenant_id=B, name="k", role=Role.ADMIN, clock=clock).secret
        with app.engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM api_keys")) == 0
            _bound(connection, A)
            assert set(connection.scalars(text("SELECT tenant_id FROM api_keys"))) == {A}
        assert authenticate(app.sessions, secret, clock=clock).tenant_id == B
        _accept_order(app, clock, A, "o-a")
        assert tenants_with_pending(app.sessions) == [A]
        lag = {r.tenant_id: r.pending for r in inbox_lag(app.sessions, now=clock.now())}
        assert (lag[A], lag[B]) == (2, 0)
    finally:
        app.close()


@postgres
def test_the_app_login_works_on_a_database_a_non_superuser_owner_migrated(
    non_superuser_owner_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    login_url = as_login(non_superuser_owner_url, APP_LOGIN)
    settings = Settings(database_url=login_url, data_dir=tmp_path, demo_mode=True)
    app = bootstrap(settings, clock=clock, migrate=False)
    try:
        ensure_tenant(app.sessions, tenant_id="initech", name="Initech", clock=clock)
        secret = key_for(app, tenant_id="initech", name="k", role=Role.ADMIN, clock=clock).secret
        assert authenticate(app.sessions, secret, clock=clock).tenant_id == "initech"
        with app.engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM api_keys")) == 0
    finally:
        app.close()
