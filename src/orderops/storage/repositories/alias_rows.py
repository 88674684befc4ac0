"""Storing an entity's names in one statement instead of one per name.

An order registers its ref, number and name, its customer's ref, id and email; a payment
its ref and PaymentIntent: all at once, so one multi-row ``INSERT .. ON CONFLICT DO
NOTHING RETURNING`` stores them, and the database still decides which are new (the
unique key on tenant, kind, key and entity), as ``ResolveRepository.add_alias`` does for
one name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orderops.storage.base import new_id
from orderops.storage.tables import EntityAlias


def add_aliases(
    session: Session,
    tenant_id: str,
    keys: Sequence[tuple[str, str]],
    *,
    entity_type: str,
    entity_ref: str,
    source: str,
    inbox_id: str | None,
    now: datetime,
) -> set[tuple[str, str]]:
    """Store each (kind, normalised key) as a name of the entity unless already stored;
    the ones that were new. ``keys`` must not repeat a pair."""
    if not keys:
        return set()
    table: Table = EntityAlias.__table__  # type: ignore[assignment]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    rows = [
        {
            "id": new_id(),
            "tenant_id": tenant_id,
            "kind": kind,
            "key": key,
            "entity_type": entity_type,
            "entity_ref": entity_ref,
            "source": source,
            "inbox_id": inbox_id,
            "created_at": now,
        }
        for kind, key in keys
    ]
    # Executed with many parameter sets, SQLAlchemy sends one multi-row INSERT
    # ("insertmanyvalues") from a statement it compiles once.
    statement = insert(table).on_conflict_do_nothing().returning(table.c.kind, table.c.key)
    return {(kind, key) for kind, key in session.execute(statement, rows)}
