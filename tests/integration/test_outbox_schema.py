"""Migration 0005 builds exactly the outbox and writeback tables the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import orderops.storage.tables
import orderops.storage.tables.writeback  # noqa: F401 - registers the writeback tables
from builders.database_roles import owner_engine
from orderops.bootstrap import App
from orderops.storage.base import Base
from orderops.storage.migrate import downgrade, upgrade

OURS = ("outbox", "writeback_attempts", "writeback_sagas", "writeback_saga_steps")


def our_differences(app: App) -> list[str]:
    with owner_engine(app).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    return [repr(d) for d in differences if any(f"'{name}'" in repr(d) for name in OURS)]


def test_the_writeback_tables_match_their_models(app: App) -> None:
    assert our_differences(app) == []


def test_migration_0005_goes_down_to_0004_and_up_again(app: App) -> None:
    downgrade(owner_engine(app), "0004")
    with owner_engine(app).connect() as connection:
        tables = set(inspect(connection).get_table_names())
        outbox_columns = {c["name"] for c in inspect(connection).get_columns("outbox")}
    assert not tables & set(OURS[1:])
    assert "leased_until" not in outbox_columns

    upgrade(owner_engine(app))

    assert our_differences(app) == []
