"""Many inbox rows in one go, for imports: COPY on PostgreSQL, one executemany on SQLite.

``InboxRepository.add`` costs a round trip per event, which is right for a request that
carries one event and wrong for a file that carries a million. A batch here costs a few
statements whatever its size, and writes exactly the rows ``add`` writes (same columns, a
fresh id each, status pending, no attempts). The database still decides what is new
through the same unique key (tenant, source, event id), so a bulk load racing a webhook
on one event stores it once, and a batch sent again after a crash only finds duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, Text, bindparam, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from orderops.storage.base import new_id
from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.tables import InboxArchive, InboxEvent

EventKey = tuple[str, str]
"""(source, event id): what makes an event the same event within a tenant."""

_INBOX: Table = InboxEvent.__table__  # type: ignore[assignment]

_LOAD_COLUMNS = "id, source, event_id, type, subject, event_time, received_at, envelope"
_CREATE_LOAD = text(
    "CREATE TEMPORARY TABLE inbox_load ("
    " id varchar(32), source varchar(200), event_id varchar(200), type varchar(64),"
    " subject varchar(200), event_time timestamptz, received_at timestamptz, envelope jsonb"
    ") ON COMMIT DROP"
)
_MOVE_LOADED = text(
    "INSERT INTO inbox (id, tenant_id, source, event_id, type, subject, event_time,"
    " received_at, envelope, status, attempts)"
    " SELECT id, CAST(:tenant AS varchar), source, event_id, type, subject, event_time,"
    " received_at, envelope, :status, 0 FROM inbox_load AS l"
    " WHERE NOT EXISTS (SELECT 1 FROM inbox_archive AS a"
    " WHERE a.tenant_id = CAST(:tenant AS varchar)"
    " AND a.source = l.source AND a.event_id = l.event_id)"
    " ON CONFLICT (tenant_id, source, event_id) DO NOTHING"
    " RETURNING source, event_id"
)
_DROP_LOAD = text("DROP TABLE inbox_load")
_SQLITE_INSERT = (
    sqlite.insert(_INBOX)
    .values(envelope=bindparam("envelope_json", type_=Text()))
    .on_conflict_do_nothing()
)
"""The envelope goes in as the text ``json.dumps`` made for the size check, so it is not
serialised a second time by the column type; every other column keeps its type."""


@dataclass(frozen=True, slots=True)
class PendingRow:
    """One validated event, as ``InboxRepository.add`` takes it."""

    source: str
    event_id: str
    type: str
    subject: str | None
    event_time: datetime
    received_at: datetime
    envelope: dict[str, Any]
    envelope_json: str | None = None
    """``json.dumps(envelope)`` when the caller has it already: the text the inbox's JSON
    column would write on SQLite; PostgreSQL's jsonb keeps the value either way."""

    @property
    def key(self) -> EventKey:
        return self.source, self.event_id


def insert_pending(session: Session, tenant_id: str, rows: Sequence[PendingRow]) -> set[EventKey]:
    """Insert the rows the tenant's inbox does not hold yet; the keys of those inserted.

    A key given twice in ``rows`` is inserted once, from its first row, so the caller can
    count every other row as a duplicate. Runs inside the caller's transaction.
    """
    unique = list({row.key: row for row in reversed(rows)}.values())
    unique.reverse()
    if not unique:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        return _copy_then_insert(session, tenant_id, unique)
    return _executemany(session, tenant_id, unique)


def _copy_then_insert(session: Session, tenant_id: str, rows: list[PendingRow]) -> set[EventKey]:
    """COPY into a temporary table, then one INSERT .. SELECT that skips what exists.

    COPY cannot skip conflicts itself, and a failed COPY would lose the whole batch over
    one redelivered event. The temporary table is dropped once moved, so a second batch in
    the same transaction can load again; the commit or rollback drops it otherwise.
    """
    session.execute(_CREATE_LOAD)
    driver = session.connection().connection.driver_connection
    if driver is None:
        raise RuntimeError("the session's connection has no driver connection")
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY inbox_load ({_LOAD_COLUMNS}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                (
                    new_id(),
                    row.source,
                    row.event_id,
                    row.type,
                    row.subject,
                    row.event_time,
                    row.received_at,
                    _envelope_json(row),
                )
            )
    inserted = session.execute(
        _MOVE_LOADED, {"tenant": tenant_id, "status": InboxStatus.PENDING}
    ).all()
    session.execute(_DROP_LOAD)
    return {(source, event_id) for source, event_id in inserted}


def _executemany(session: Session, tenant_id: str, rows: list[PendingRow]) -> set[EventKey]:
    """One prepared INSERT run for every row; when some were skipped, a SELECT of the ids
    that landed says which.

    SQLite has one writer at a time, so no one else can insert between the two; the ids
    are new, so those found are exactly the rows this batch inserted. Events retention
    moved to the archive are left out first: they are duplicates, however old.
    """
    archived = {
        (source, event_id)
        for source, event_id in session.execute(
            select(InboxArchive.source, InboxArchive.event_id).where(
                InboxArchive.tenant_id == tenant_id,
                InboxArchive.event_id.in_([row.event_id for row in rows]),
            )
        )
    }
    rows = [row for row in rows if row.key not in archived]
    if not rows:
        return set()
    values = [
        {
            "id": new_id(),
            "tenant_id": tenant_id,
            "source": row.source,
            "event_id": row.event_id,
            "type": row.type,
            "subject": row.subject,
            "event_time": row.event_time,
            "received_at": row.received_at,
            "envelope_json": _envelope_json(row),
            "status": InboxStatus.PENDING,
            "attempts": 0,
        }
        for row in rows
    ]
    result = session.execute(_SQLITE_INSERT, values)
    if result.rowcount == len(values):  # type: ignore[attr-defined]
        return {row.key for row in rows}
    found = session.execute(
        select(InboxEvent.source, InboxEvent.event_id).where(
            InboxEvent.tenant_id == tenant_id, InboxEvent.id.in_([v["id"] for v in values])
        )
    )
    return {(source, event_id) for source, event_id in found}


def _envelope_json(row: PendingRow) -> str:
    """What the JSON column's default serialiser (``json.dumps``) writes for the envelope."""
    return row.envelope_json if row.envelope_json is not None else json.dumps(row.envelope)
