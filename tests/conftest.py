"""Shared fixtures: a real database per test (SQLite and PostgreSQL), a fixed clock, builders.

Each test gets a database of its own, cloned from one migrated once per test process: a
copied SQLite file, or a PostgreSQL database created from a template on the server named by
ORDEROPS_TEST_POSTGRES_URL (the role needs CREATEDB), or one an earlier test of the process
used, emptied, when only its rows changed (``database_roles._Reuse``). If that server is
unreachable the PostgreSQL tests are skipped locally with the reason, and fail in CI
(CI=true), where the database is part of the contract.
"""

from __future__ import annotations

import gc
import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from builders.access import Person, client, person
from builders.database_roles import (
    APP_LOGIN,
    PG_URL,
    as_login,
    dispose_owner_engines,
    drop_spare_databases,
    ensure_login_of_app_role,
    postgres_clone,
)
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.console import security
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.engine import make_engine
from orderops.storage.migrate import upgrade
from orderops.tenancy.tenants import ensure_tenant, issue_key

pytest_plugins = ["builders.connected_fixtures", "builders.telemetry"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
AS_APP_ROLE = os.environ.get("ORDEROPS_TEST_PG_APP_ROLE", "1").lower() in {"1", "true", "yes"}
"""Run the app on PostgreSQL as a login of the app role (row-level security enforced), not
as the superuser that migrates. On by default, so the whole PostgreSQL suite runs under the
policies a deployment has; ``ORDEROPS_TEST_PG_APP_ROLE=0`` runs it as the owner."""
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

security.SCRYPT_N = 2**10
"""Passwords set in tests are hashed at a sixteenth of the production scrypt cost: about a
thousand console tests each set and check a password, at 0.1-0.2 s a hash. Each hash names
its own parameters, so checking one runs the same code as in production."""

gc.set_threshold(50_000, 20, 100)
"""A test builds an app (hundreds of routes, their models and closures) and drops it: at
Python's default thresholds the collector ran a full pass over a worker's million-odd
objects some twenty times a minute, 30% of the console tests' time (measured with
gc.callbacks); with these it runs a few times and the garbage dies young."""

_pg_state: dict[str, str | None] = {}


def _postgres_problem() -> str | None:
    if "problem" not in _pg_state:
        try:
            engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
            _pg_state["problem"] = None
        except Exception as exc:  # noqa: BLE001 - any failure to connect is the same answer
            _pg_state["problem"] = f"PostgreSQL at {PG_URL} unreachable: {exc}"
    return _pg_state["problem"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, made once per test process and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "orderops.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated PostgreSQL database, made once per test process, cloned for each test.

    ``CREATE DATABASE .. TEMPLATE`` copies it in tens of milliseconds where running every
    migration takes seconds; test_migrations.py still runs the chain down and up itself.
    """
    problem = _postgres_problem()
    if problem:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    name = f"tmpl_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(make_url(PG_URL).set(database=name))
    upgrade(engine)
    engine.dispose()
    with admin.connect() as connection:
        ensure_login_of_app_role(connection, APP_LOGIN)  # the migration made its group
    yield name
    drop_spare_databases()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def owner_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A real, already migrated database of its own for each test, as the role that owns
    (and migrates) it."""
    if request.param == "sqlite":
        target = tmp_path / "orderops.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    with postgres_clone(request.getfixturevalue("postgres_template"), reuse=True) as url:
        yield url


@pytest.fixture
def postgres_owner_url(postgres_template: str) -> Iterator[str]:
    """For PostgreSQL-only tests (mark them ``postgres``): a migrated database of their
    own, as the superuser that owns it; ``APP_LOGIN`` may connect to it as the app role."""
    with postgres_clone(postgres_template, reuse=True) as url:
        yield url


@pytest.fixture
def database_url(owner_database_url: str) -> str:
    """The same database as the application connects to it: on PostgreSQL with
    ORDEROPS_TEST_PG_APP_ROLE=1, as a login of the app role, under row-level security."""
    if AS_APP_ROLE and make_url(owner_database_url).get_backend_name() == "postgresql":
        return as_login(owner_database_url, APP_LOGIN)
    return owner_database_url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def app(
    database_url: str, owner_database_url: str, clock: FixedClock, tmp_path: Path
) -> Iterator[App]:
    settings = Settings(
        database_url=database_url,
        migration_database_url=owner_database_url if owner_database_url != database_url else None,
        data_dir=tmp_path,
        demo_mode=True,
    )
    application = bootstrap(settings, clock=clock)
    ensure_tenant(application.sessions, tenant_id="acme", name="Acme", clock=clock)
    ensure_tenant(application.sessions, tenant_id="globex", name="Globex", clock=clock)
    yield application
    application.close()
    dispose_owner_engines()


@pytest.fixture
def service_key(app: App, clock: FixedClock) -> str:
    return issue_key(
        app.sessions, tenant_id="acme", name="svc", role=Role.SERVICE, clock=clock, service="svc"
    ).secret


# The people most case-work scenarios need: an HTTP client and one person per desk role,
# each a user of the acme tenant with a key of their own, so maker-checker and
# approver-eligibility rules see distinct identities.


@pytest.fixture
def http(app: App) -> Iterator[TestClient]:
    with client(app) as test_client:
        yield test_client


@pytest.fixture
def admin(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.ADMIN, name="ada-admin")


@pytest.fixture
def agent(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.AGENT, name="alice-agent")


@pytest.fixture
def approver(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.APPROVER, name="bob-approver")


@pytest.fixture
def finance(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.FINANCE_APPROVER, name="fay-finance")


@pytest.fixture
def service(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.SERVICE, name="recommender-svc")
