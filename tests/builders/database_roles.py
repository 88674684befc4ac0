"""PostgreSQL roles for tests that run the application as a deployment does.

Roles belong to the cluster, not to a database, and test processes share the cluster, so
each role is made once by whichever process comes first and reused by the rest; a process
that loses the race to create one simply finds it made.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

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
def postgres_clone(template: str, *, reuse: bool = False) -> Iterator[str]:
    """A database of its own copied from ``template``, dropped after; with ``reuse``, one
    an earlier test of this process left and ``_reset`` brought back to the template's
    state when it can (see ``_Reuse``)."""
    name = (_reuse.take(template) if reuse else None) or _create(template)
    try:
        yield _url(name)
    finally:
        if not (reuse and _reuse.give_back(template, name)):
            _drop(name)


def _url(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _create(template: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with _admin().connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    return name


def _drop(name: str) -> None:
    with _admin().connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_admins: list[Engine] = []


def _admin() -> Engine:
    if not _admins:
        _admins.append(create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool))
    return _admins[0]


_CATALOG = """
SELECT string_agg(state, ';' ORDER BY state) FROM (
  SELECT 'class:' || count(*) || ':' || max(xmin::text::bigint) AS state FROM pg_class
  UNION ALL SELECT 'attribute:' || count(*) || ':' || max(xmin::text::bigint) FROM pg_attribute
  UNION ALL SELECT 'constraint:' || count(*) || ':' || max(xmin::text::bigint) FROM pg_constraint
  UNION ALL SELECT 'index:' || count(*) || ':' || max(xmin::text::bigint) FROM pg_index
  UNION ALL SELECT 'policy:' || count(*) || ':' || max(xmin::text::bigint) FROM pg_policy
  UNION ALL SELECT 'trigger:' || count(*) || ':' || max(xmin::text::bigint) FROM pg_trigger
  UNION ALL SELECT 'proc:' || count(*) || ':' || max(xmin::text::bigint) FROM pg_proc
  UNION ALL SELECT 'type:' || count(*) || ':' || max(xmin::text::bigint) FROM pg_type
  UNION ALL SELECT 'namespace:' || count(*) || ':' || max(xmin::text::bigint) FROM pg_namespace
  UNION ALL SELECT 'attrdef:' || count(*) || ':' || max(xmin::text::bigint) FROM pg_attrdef
  UNION ALL SELECT 'rewrite:' || count(*) || ':' || max(xmin::text::bigint) FROM pg_rewrite
  UNION ALL SELECT 'version:' || coalesce(string_agg(version_num, ','), '') FROM alembic_version
) AS parts
"""
"""The schema's state, as far as a test can change it: any DDL, grant or policy change
writes catalog rows with a newer transaction id (or removes some), and a migration moves
``alembic_version``; rows of the tables change none of it."""


class _Reuse:
    """Databases of this process that a finished test left, kept for the next one.

    Creating a database from the migrated template copies its ~400 relations: 0.6 s of the
    ~0.7 s a PostgreSQL test spent in setup (three thousand of them in a run). A database
    is taken back instead when nothing but rows changed in it: the other connections to it
    (a server or thread the test left running) are ended, it is renamed (what the test
    left running cannot connect again), its catalog is compared with the template's, and
    every table the template holds empty is emptied (foreign keys and triggers off for the
    purpose, as a superuser may). Anything else (a migration run down, a table made, a
    grant changed, a database that cannot be reached) and it is dropped, as every database
    was before."""

    def __init__(self) -> None:
        self._spare: dict[str, list[str]] = {}
        self._baseline: dict[str, tuple[str, str]] = {}

    def take(self, template: str) -> str | None:
        spare = self._spare.get(template)
        return spare.pop() if spare else None

    def give_back(self, template: str, name: str) -> bool:
        fresh = f"t_{uuid.uuid4().hex[:12]}"
        try:
            clean = self._reset(template, name, fresh)
        except Exception:  # noqa: BLE001 - a database that cannot be reset is dropped
            clean = False
        if clean:
            self._spare.setdefault(template, []).append(fresh)
        else:
            _drop(fresh)
        return clean

    def _reset(self, template: str, name: str, fresh: str) -> bool:
        """Bring ``name`` back to the template's state under the name ``fresh``: a thread
        of the finished test still holding its URL can no longer reach it."""
        with _admin().connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            for _ in range(200):
                others = connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"),
                    {"name": name},
                ).scalar_one()
                if not others:
                    break
                time.sleep(0.01)
            else:
                return False
            connection.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{fresh}"'))
        catalog, emptying = self._baseline_of(template)
        if not emptying:
            return False
        engine = create_engine(_url(fresh), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with engine.connect() as connection:
                if connection.exec_driver_sql(_CATALOG).scalar_one() != catalog:
                    return False
                connection.exec_driver_sql(emptying)
        finally:
            engine.dispose()
        return True

    def _baseline_of(self, template: str) -> tuple[str, str]:
        if template not in self._baseline:
            engine = create_engine(_url(template), poolclass=NullPool)
            try:
                with engine.connect() as connection:
                    catalog = connection.exec_driver_sql(_CATALOG).scalar_one()
                    tables = connection.execute(
                        text(
                            "SELECT quote_ident(tablename) FROM pg_tables"
                            " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                            " ORDER BY tablename"
                        )
                    ).all()
                    seeded = [
                        t
                        for (t,) in tables
                        if connection.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {t})").scalar()
                    ]
            finally:
                engine.dispose()
            emptying = "".join(f"DELETE FROM {table};" for (table,) in tables)
            self._baseline[template] = (
                catalog,
                # a migration that seeds rows would have them deleted: no reuse then
                ""
                if seeded
                else f"BEGIN; SET LOCAL session_replication_role = replica;{emptying}COMMIT;",
            )
        return self._baseline[template]

    def drop_all(self) -> None:
        while self._spare:
            for name in self._spare.popitem()[1]:
                _drop(name)


_reuse = _Reuse()


def drop_spare_databases() -> None:
    """At the end of a test process: drop the databases kept for reuse."""
    _reuse.drop_all()


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
