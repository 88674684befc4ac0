"""money is 64-bit; provider text fits its column or the column is Text; processing
failures become dead letters (dead_letters.inbox_id)

Money columns were 32-bit on PostgreSQL while the event schema accepts far more (three
billion dong failed), and names and titles went into short varchars (a 68-character
shipping-line title failed): such events were accepted, then failed for good. Inbox rows
already "failed" get a dead letter each here, so ``orderops deadletters replay`` can run
them again now that they fit.

SQLite stores every integer in up to 64 bits and never enforces a varchar length, so on
SQLite only the declared types change, in place (see ``_sqlite_redeclare``): rebuilding
these tables the batch way would drop them, and dropping ``orders`` or ``cases`` with
foreign keys on cascades into every order line, timeline entry and action.

Revision ID: 0012_bigint_money_and_bounds
Revises: 0011
Create Date: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

import orderops.storage.base

revision: str = "0012_bigint_money_and_bounds"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TYPE = orderops.storage.base.UtcDateTime(timezone=True)

# table -> column -> (type before, type after)
CHANGES: dict[str, dict[str, tuple[TypeEngine[Any], TypeEngine[Any]]]] = {
    "orders": {
        "total_minor": (sa.Integer(), sa.BigInteger()),
        "service_level": (sa.String(64), sa.Text()),
    },
    "order_lines": {
        "unit_price_minor": (sa.Integer(), sa.BigInteger()),
        "title": (sa.String(500), sa.Text()),
    },
    "payments": {
        "amount_minor": (sa.Integer(), sa.BigInteger()),
        "amount_refunded_minor": (sa.Integer(), sa.BigInteger()),
    },
    "shipments": {
        "service": (sa.String(64), sa.Text()),
        "last_location": (sa.String(200), sa.Text()),
    },
    "tracking_events": {"location": (sa.String(200), sa.Text())},
    "customers": {"name": (sa.String(200), sa.Text())},
    "customer_identities": {"source": (sa.String(40), sa.String(200))},
    "incidents": {"key": (sa.String(300), sa.Text())},
    "cases": {"incident_key": (sa.String(300), sa.Text())},
}
NOT_NULL = {
    ("orders", "total_minor"),
    ("order_lines", "unit_price_minor"),
    ("payments", "amount_minor"),
    ("payments", "amount_refunded_minor"),
    ("customer_identities", "source"),
    ("incidents", "key"),
}


def upgrade() -> None:
    bind = op.get_bind()
    for table, columns in CHANGES.items():
        if bind.dialect.name == "sqlite":
            _sqlite_redeclare(bind, table, {name: new for name, (_, new) in columns.items()})
            continue
        for name, (old, new) in columns.items():
            op.alter_column(
                table,
                name,
                type_=new,
                existing_type=old,
                existing_nullable=(table, name) not in NOT_NULL,
            )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "inbox_id",
                sa.String(length=32),
                sa.ForeignKey("inbox.id", name=op.f("fk_dead_letters_inbox_id_inbox")),
                nullable=True,
            )
        )
        batch_op.create_index(op.f("ix_dead_letters_inbox_id"), ["inbox_id"], unique=False)
    _dead_letter_failed_rows(bind)


def downgrade() -> None:
    bind = op.get_bind()
    op.execute("DELETE FROM dead_letters WHERE inbox_id IS NOT NULL")
    if bind.dialect.name == "sqlite":
        # webhook_deliveries points at dead_letters: the rebuilt table keeps every id, so
        # the check may wait for the commit instead of failing on the interim drop.
        op.execute("PRAGMA defer_foreign_keys = ON")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_dead_letters_inbox_id"))
        batch_op.drop_column("inbox_id")
    for table, columns in CHANGES.items():
        if bind.dialect.name == "sqlite":
            _sqlite_redeclare(bind, table, {name: old for name, (old, _) in columns.items()})
            continue
        for name, (old, new) in columns.items():
            length = getattr(old, "length", None)
            op.alter_column(
                table,
                name,
                type_=old,
                existing_type=new,
                existing_nullable=(table, name) not in NOT_NULL,
                # Text that no longer fits is cut; money that no longer fits fails the
                # downgrade rather than change an amount.
                postgresql_using=f'left("{name}", {length})' if length else None,
            )


def _sqlite_redeclare(bind: Connection, table: str, types: dict[str, TypeEngine[Any]]) -> None:
    """Change declared column types in the stored CREATE TABLE, in place.

    This is SQLite's own procedure for schema changes that leave the stored records
    unchanged (https://sqlite.org/lang_altertable.html#otheralter): edit sqlite_schema
    under ``writable_schema`` and bump ``schema_version`` in the same transaction. It is
    safe here because every change keeps the column's affinity (INTEGER -> BIGINT are
    both INTEGER, VARCHAR(n) -> TEXT both TEXT), so no stored value is reinterpreted; the
    result is checked against the wanted types before the transaction goes on.
    """
    create = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    for name, new in types.items():
        declared = str(new.compile(dialect=bind.dialect))
        pattern = re.compile(
            rf'((?:^|,)\s*"?{re.escape(name)}"?\s+)[A-Za-z]+(?:\s*\(\s*\d+\s*\))?', re.MULTILINE
        )
        create, found = pattern.subn(rf"\g<1>{declared}", create)
        if found != 1:
            raise RuntimeError(f"{table}.{name}: found {found} declarations to change")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.exec_driver_sql(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (create, table)
        )
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    declared_now = {
        row[1]: str(row[2]).upper()
        for row in bind.exec_driver_sql(f'PRAGMA table_info("{table}")').fetchall()
    }
    for name, new in types.items():
        wanted = str(new.compile(dialect=bind.dialect)).upper()
        if declared_now.get(name) != wanted:
            raise RuntimeError(f"{table}.{name} is {declared_now.get(name)}, not {wanted}")


def _dead_letter_failed_rows(bind: Connection) -> None:
    """One open dead letter per inbox row that processing gave up on before this revision."""
    inbox = sa.table(
        "inbox",
        sa.column("id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("source", sa.String),
        sa.column("envelope", sa.JSON),
        sa.column("status", sa.String),
        sa.column("attempts", sa.Integer),
        sa.column("error", sa.Text),
    )
    letters = sa.table(
        "dead_letters",
        sa.column("id", sa.String),
        sa.column("tenant_id", sa.String),
        sa.column("source", sa.String),
        sa.column("channel", sa.String),
        sa.column("received_at", UTC_TYPE),
        sa.column("reason_code", sa.String),
        sa.column("reason", sa.Text),
        sa.column("content_type", sa.String),
        sa.column("body", sa.Text),
        sa.column("body_bytes", sa.Integer),
        sa.column("body_truncated", sa.Boolean),
        sa.column("status", sa.String),
        sa.column("inbox_id", sa.String),
    )
    now = datetime.now(UTC)
    failed = bind.execute(sa.select(inbox).where(inbox.c.status == "failed")).fetchall()
    for row in failed:
        body = json.dumps(row.envelope, ensure_ascii=False, separators=(",", ":"), default=str)
        error = row.error or "?"
        bind.execute(
            letters.insert().values(
                id=uuid.uuid4().hex,
                tenant_id=row.tenant_id,
                source=row.source,
                channel="processing",
                received_at=now,
                reason_code=_reason_code(error),
                reason=f"processing failed {row.attempts} times; last error: {error}",
                content_type="application/json",
                body=body,
                body_bytes=len(body.encode("utf-8")),
                body_truncated=False,
                status="open",
                inbox_id=row.id,
            )
        )


def _reason_code(error: str) -> str:
    """The reason class from a stored error text (the exception itself is long gone)."""
    lowered = error.lower()
    if "out of range" in lowered:
        return "value_out_of_range"
    if "too long" in lowered:
        return "value_too_long"
    if "integrityerror" in lowered:
        return "constraint_violation"
    if "invalidevent" in lowered:
        return "invalid_event"
    return "processing_error"
