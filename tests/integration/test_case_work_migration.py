"""Migration 0007 builds exactly the case-work tables and case columns the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import orderops.storage.tables
import orderops.storage.tables.queues  # noqa: F401
from builders.database_roles import owner_engine
from orderops.bootstrap import App
from orderops.storage.base import Base
from orderops.storage.migrate import downgrade, upgrade

CASE_WORK_TABLES = {
    "queues",
    "queue_members",
    "routing_rules",
    "case_timers",
    "communications",
    "communication_events",
    "evidence_blobs",
}
CASE_COLUMNS = {"queue", "priority", "assignee", "snoozed_until", "wake_on_event"}


def _mentions_case_work(diff: Any) -> bool:
    text = repr(diff)
    return any(f"'{t}'" in text for t in CASE_WORK_TABLES) or (
        "'cases'" in text and any(f"'{c}'" in text for c in CASE_COLUMNS)
    )


def _flatten(differences: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for diff in differences:
        flat += diff if isinstance(diff, list) else [diff]
    return flat


def test_case_work_schema_matches_the_models(app: App) -> None:
    with owner_engine(app).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = _flatten(compare_metadata(context, Base.metadata))

    assert [d for d in differences if _mentions_case_work(d)] == []


def test_case_work_migration_goes_down_and_up_again(app: App) -> None:
    downgrade(owner_engine(app), "0007-1")  # this branch only: other branches also start at 0004
    after_down = inspect(owner_engine(app))
    tables_down = set(after_down.get_table_names())
    case_columns_down = {c["name"] for c in after_down.get_columns("cases")}
    case_indexes_down = {i["name"] for i in after_down.get_indexes("cases")}
    upgrade(owner_engine(app))
    after_up = inspect(owner_engine(app))

    assert tables_down & CASE_WORK_TABLES == set()
    assert case_columns_down & CASE_COLUMNS == set()
    assert "uq_cases_open_per_order_type" in case_indexes_down
    assert set(after_up.get_table_names()) >= CASE_WORK_TABLES
    assert {c["name"] for c in after_up.get_columns("cases")} >= CASE_COLUMNS
