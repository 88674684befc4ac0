"""PostgreSQL roles for tests that run the application as a deployment does.

Roles belong to the cluster, not to a database, and test processes share the cluster, so
each role is made once by whichever process comes first and reused by the rest; a process
that loses the race to create one simply finds it made.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from orderops.bootstrap import App
from orderops.storage.engine import make_engine, make_session_factory
from orderops.storage.migrate import DEFAULT_APP_ROLE

PG_URL = os.environ.get(
    "ORDEROPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
"""The test cluster, as a superuser that may create databases and roles."""
APP_LOGIN = "orderops_test_app"
"""The login tests connect as when the application must run as the app role."""


def ensure_login_of_app_role(
    connection: Connection, login: str, *, group: str = DEFAULT_APP_ROLE
) -> None:
    """A LOGIN role (no password: the test cluster trusts local connections), member of the
    app group, neither superuser nor BYPASSRLS. ``connection`` must be in autocommit."""
    ensure_role(connection, login, f"LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE {_quote(group)}")


def ensure_role(connection: Connection, role: str, attributes: str) -> None:
    connection.execute(
        text(
            f"""
            DO $$
            BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {_quote(role)} {attributes};
              END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END $$
            """
        )
    )


@contextmanager
def postgres_clone(template: str) -> Iterator[str]:
    """A database of its own copied from ``template`` (tens of milliseconds), dropped after."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def as_login(url: str, login: str) -> str:
    """The same database, connected to as ``login``."""
    return make_url(url).set(username=login, password=None).render_as_string(hide_password=False)


def _quote(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain role name: {name!r}")
    return f'"{name}"'


# --- the owner's view, for tests that inspect or tamper with the database directly ---------

_owner_engines: dict[str, Engine] = {}
_owner_factories: dict[str, sessionmaker[Session]] = {}


def owner_sessions(app: App) -> sessionmaker[Session]:
    """Sessions as the role that owns the tables, for a test's own reads and writes.

    The application's sessions are the app role's: one bound to no tenant sees no
    tenant-owned row on PostgreSQL. A test that inspects what the code under test left
    behind, or tampers with rows as an attacker with database access would, is not the
    application and uses these. Without a separate owner (SQLite; PostgreSQL when the app
    runs as the owner) they are the application's own."""
    url = _owner_url(app)
    if url is None:
        return app.sessions
    if url not in _owner_factories:
        factory = make_session_factory(owner_engine(app))
        factory.configure(info=dict(app.sessions.kw.get("info") or {}))  # the audit key
        _owner_factories[url] = factory
    return _owner_factories[url]


def owner_engine(app: App) -> Engine:
    """The owner's engine (see ``owner_sessions``); migrations need it."""
    url = _owner_url(app)
    if url is None:
        return app.engine
    if url not in _owner_engines:
        _owner_engines[url] = make_engine(url)
    return _owner_engines[url]


def dispose_owner_engines() -> None:
    _owner_factories.clear()
    while _owner_engines:
        _owner_engines.popitem()[1].dispose()


def _owner_url(app: App) -> str | None:
    url = app.settings.migration_database_url
    return None if not url or url == app.settings.resolved_database_url else url
