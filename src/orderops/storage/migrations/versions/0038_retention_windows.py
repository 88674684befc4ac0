"""per-tenant retention windows for evidence and messages; erasure records (issue #15 item 3)

Revision ID: 0038_retention_windows
Revises: 0037_saved_views
Create Date: 2026-12-04 23:40:00

Written by hand to mirror ``orderops.storage.tables.retention`` and the new
``audit_log.data_digest`` column. ``retention_windows`` (one row per tenant that set a
window other than the defaults) and ``customer_erasures`` (one row per erasure run) are
tenant-owned, keyed by tenant first and under row-level security from the start.
``audit_log.data_digest`` is nullable: records written before it keep hashing their
payload inline and verify as before; records written after hash the digest, so their
payload can be redacted by an erasure. Downgrade drops all three.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0038_retention_windows"
down_revision: str | None = "0037_saved_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
WINDOWS = "retention_windows"
ERASURES = "customer_erasures"


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="RESTRICT"
    )


def upgrade() -> None:
    op.create_table(
        WINDOWS,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("archive_days", sa.Integer(), nullable=True),
        sa.Column("raw_body_days", sa.Integer(), nullable=True),
        sa.Column("evidence_days", sa.Integer(), nullable=True),
        sa.Column("message_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        _tenant_fk(WINDOWS),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{WINDOWS}"),
        sa.UniqueConstraint("tenant_id", name=f"uq_{WINDOWS}_tenant_id"),
    )
    op.create_index(f"ix_{WINDOWS}_id", WINDOWS, ["id"])
    protect(WINDOWS)
    op.create_table(
        ERASURES,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=True),
        sa.Column("counts", JSON, nullable=False),
        _tenant_fk(ERASURES),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{ERASURES}"),
    )
    op.create_index(f"ix_{ERASURES}_id", ERASURES, ["id"])
    op.create_index("ix_customer_erasures_tenant_customer", ERASURES, ["tenant_id", "customer_id"])
    protect(ERASURES)
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("data_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("data_digest")
    unprotect(ERASURES)
    op.drop_table(ERASURES)
    unprotect(WINDOWS)
    op.drop_table(WINDOWS)
