"""Running Alembic from code: the CLI, the app's start-up and the tests share this."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, text

from orderops.storage.engine import SQLITE_BEGIN_OPTION, make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


APP_ROLE_OPTION = "orderops_app_role"
"""Read by migration 0021: the group role that gets the application's privileges."""
DEFAULT_APP_ROLE = "orderops_app"


def alembic_config(url: str, *, app_role: str = DEFAULT_APP_ROLE) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option(APP_ROLE_OPTION, app_role.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "heads", *, app_role: str = DEFAULT_APP_ROLE) -> None:
    """Run as the role that owns the tables (``ORDEROPS_MIGRATION_DATABASE_URL``).

    A database already at this code's heads is left alone without loading the migration
    scripts: every process start (and every test's app) would otherwise import all of them
    to learn there is nothing to do."""
    if revision == "heads" and current_revisions(engine) == expected_heads():
        return
    config = alembic_config(engine.url.render_as_string(hide_password=False), app_role=app_role)
    with _writing(engine).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revisions(engine: Engine) -> set[str]:
    """The revisions recorded in the database; empty before its first migration."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return set()
        return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def downgrade(engine: Engine, revision: str, *, app_role: str = DEFAULT_APP_ROLE) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False), app_role=app_role)
    with _writing(engine).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _writing(engine: Engine) -> Engine:
    """On SQLite a migration takes the write lock as it begins: begun deferred, it reads
    first and then fails at once with "database is locked" when another connection (the
    usage meter's flush, a worker) has committed since its read."""
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def upgrade_url(url: str, *, app_role: str = DEFAULT_APP_ROLE) -> None:
    """Migrate the database at ``url`` with an engine of its own, closed afterwards."""
    engine = make_engine(url)
    try:
        upgrade(engine, app_role=app_role)
    finally:
        engine.dispose()


def expected_heads() -> set[str]:
    """The revisions this code expects the database to be at."""
    return set(_script_heads())


@cache
def _script_heads() -> frozenset[str]:
    # The scripts cannot change under a running process; reading them costs ~40 ms.
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
