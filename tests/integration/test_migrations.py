"""The schema built by the migrations is exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import orderops.storage.tables  # noqa: F401
from builders.database_roles import owner_engine
from orderops.bootstrap import App
from orderops.storage.base import Base
from orderops.storage.migrate import downgrade, upgrade


def test_migrated_schema_matches_the_models(app: App) -> None:
    with owner_engine(app).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrations_go_down_and_up_again(app: App) -> None:
    downgrade(owner_engine(app), "base")
    with owner_engine(app).connect() as connection:
        tables = set(owner_engine(app).dialect.get_table_names(connection))
    assert tables <= {"alembic_version"}
    upgrade(owner_engine(app))
    with owner_engine(app).connect() as connection:
        tables = set(owner_engine(app).dialect.get_table_names(connection))
    assert set(Base.metadata.tables) <= tables
