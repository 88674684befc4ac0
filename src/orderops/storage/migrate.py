"""Running Alembic from code: the CLI, the app's start-up and the tests share this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from orderops.storage.engine import make_engine

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
    """Run as the role that owns the tables (``ORDEROPS_MIGRATION_DATABASE_URL``)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False), app_role=app_role)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str, *, app_role: str = DEFAULT_APP_ROLE) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False), app_role=app_role)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def upgrade_url(url: str, *, app_role: str = DEFAULT_APP_ROLE) -> None:
    """Migrate the database at ``url`` with an engine of its own, closed afterwards."""
    engine = make_engine(url)
    try:
        upgrade(engine, app_role=app_role)
    finally:
        engine.dispose()


def expected_heads() -> set[str]:
    """The revisions this code expects the database to be at."""
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())
