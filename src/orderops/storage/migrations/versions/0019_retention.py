"""retention: archive tables for the inbox and webhook deliveries, a window per tenant

Revision ID: 0019_retention
Revises: 0018_list_indexes
Create Date: 2026-12-04 12:00:00

Mirrors ``orderops.storage.tables.archive`` and ``Tenant.retention_days`` (90 days for
every existing tenant). The references to ``inbox.id`` from rows that outlive the hot
inbox row (timeline entries, record links, aliases, suggestions, refunds, tracking
events) lose their foreign key and stay plain ids, readable in either table; dead letters,
fraud signals and alias waits keep theirs, and retention leaves the rows they name hot;
their ``inbox_id`` columns get the index that makes deleting an inbox row (the key check)
and retention's "nothing names it" test an index probe rather than a scan per row.

Downgrading moves every archived row back into the hot tables before the keys return, so
nothing archived is lost and every restored key finds its row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base

revision: str = "0019_retention"
down_revision: str | None = "0018_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOOSENED = (
    "case_timeline",
    "entity_aliases",
    "link_suggestions",
    "order_refunds",
    "record_links",
    "tracking_events",
)
"""Tables whose ``inbox_id`` no longer has a foreign key to ``inbox.id``."""
KEPT = (
    ("alias_waits", "inbox_id"),
    ("dead_letters", "replay_inbox_id"),
    ("fraud_signals", "inbox_id"),
)
"""Columns that keep their key to ``inbox.id`` and gain an index."""

INBOX_COLUMNS = (
    "id, tenant_id, source, event_id, type, subject, event_time, received_at, envelope, "
    "status, attempts, processed_at, error"
)
DELIVERY_COLUMNS = (
    "id, tenant_id, source, delivery_id, body_sha256, received_at, headers, body, body_bytes, "
    "status, error, dead_letter_id, completed_at"
)


def _tenant_key() -> sa.Column[str]:
    return sa.Column("tenant_id", sa.String(length=64), nullable=False)


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("retention_days", sa.Integer(), server_default="90", nullable=False),
    )
    op.create_table(
        "inbox_archive",
        _tenant_key(),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("event_time", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("envelope", orderops.storage.base.JsonType, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("archived_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_inbox_archive_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_inbox_archive")),
        sa.UniqueConstraint(
            "tenant_id",
            "source",
            "event_id",
            name=op.f("uq_inbox_archive_tenant_id_source_event_id"),
        ),
    )
    op.create_index(
        "ix_inbox_archive_tenant_received", "inbox_archive", ["tenant_id", "received_at"]
    )
    op.create_table(
        "webhook_deliveries_archive",
        _tenant_key(),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("received_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("headers", orderops.storage.base.JsonType, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_bytes", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("dead_letter_id", sa.String(length=32), nullable=True),
        sa.Column("completed_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("archived_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_webhook_deliveries_archive_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_webhook_deliveries_archive")),
        sa.UniqueConstraint(
            "tenant_id",
            "source",
            "delivery_id",
            "body_sha256",
            name=op.f("uq_webhook_deliveries_archive_tenant_id_source_delivery_id_body_sha256"),
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_archive_tenant_received",
        "webhook_deliveries_archive",
        ["tenant_id", "received_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_archive_tenant_body_sha256",
        "webhook_deliveries_archive",
        ["tenant_id", "source", "body_sha256"],
    )
    for table, column in KEPT:
        op.create_index(op.f(f"ix_{table}_{column}"), table, [column])
    for table in LOOSENED:
        # SQLite cannot drop a constraint in place: batch mode copies the table.
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f"fk_{table}_inbox_id_inbox"), type_="foreignkey")


def downgrade() -> None:
    # Archived rows go back first (a key already hot again is the same event: it stays),
    # so the foreign keys restored below find every row they name.
    op.execute(
        f"INSERT INTO inbox ({INBOX_COLUMNS}) SELECT {INBOX_COLUMNS} FROM inbox_archive a "
        "WHERE NOT EXISTS (SELECT 1 FROM inbox i WHERE i.id = a.id OR (i.tenant_id = a.tenant_id "
        "AND i.source = a.source AND i.event_id = a.event_id))"
    )
    op.execute(
        f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS}) SELECT {DELIVERY_COLUMNS} "
        "FROM webhook_deliveries_archive a WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d "
        "WHERE d.id = a.id OR (d.tenant_id = a.tenant_id AND d.source = a.source "
        "AND d.delivery_id = a.delivery_id AND d.body_sha256 = a.body_sha256))"
    )
    for table in LOOSENED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_foreign_key(
                op.f(f"fk_{table}_inbox_id_inbox"), "inbox", ["inbox_id"], ["id"]
            )
    for table, column in KEPT:
        op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
    op.drop_index(
        "ix_webhook_deliveries_archive_tenant_body_sha256", table_name="webhook_deliveries_archive"
    )
    op.drop_index(
        "ix_webhook_deliveries_archive_tenant_received", table_name="webhook_deliveries_archive"
    )
    op.drop_table("webhook_deliveries_archive")
    op.drop_index("ix_inbox_archive_tenant_received", table_name="inbox_archive")
    op.drop_table("inbox_archive")
    op.drop_column("tenants", "retention_days")
