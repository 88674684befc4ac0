"""The schema built by the migrations is exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import orderops.storage.tables  # noqa: F401
from orderops.bootstrap import App
from orderops.storage.base import Base
from orderops.storage.migrate import downgrade, upgrade


def test_migrated_schema_matches_the_models(app: App) -> None:
    with app.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrations_go_down_and_up_again(app: App) -> None:
    downgrade(app.engine, "base")
    with app.engine.connect() as connection:
        tables = set(app.engine.dialect.get_table_names(connection))
    assert tables <= {"alembic_version"}
    upgrade(app.engine)
    with app.engine.connect() as connection:
        tables = set(app.engine.dialect.get_table_names(connection))
    assert set(Base.metadata.tables) <= tables
