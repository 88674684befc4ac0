"""Dialect-specific INSERT ... ON CONFLICT DO NOTHING, shared by repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Exists, Table, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_if_absent(session: Session, table: Table, values: dict[str, Any]) -> bool:
    """Insert one row unless a unique constraint already holds it; True when inserted.

    One round trip, no savepoint, and the database (not a prior SELECT) decides, so two
    concurrent deliveries of one event cannot both win.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    return session.execute(statement).first() is not None


def insert_if_absent_unless(
    session: Session, table: Table, values: dict[str, Any], unless: Exists
) -> bool:
    """Like ``insert_if_absent``, but also not when ``unless`` holds (e.g. the key is in an
    archive table): still one round trip, ``INSERT .. SELECT .. WHERE NOT EXISTS``."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    names = list(values)
    row = select(*(literal(values[n], type_=table.c[n].type) for n in names)).where(~unless)
    statement = insert(table).from_select(names, row).on_conflict_do_nothing().returning(table.c.id)
    return session.execute(statement).first() is not None
