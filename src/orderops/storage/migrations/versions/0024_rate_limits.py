"""rate_limits: shared rate-limit windows and per-tenant limit overrides

Revision ID: 0024_rate_limits
Revises: 0023_key_lifecycle
Create Date: 2026-12-04 10:00:00

Written by hand to mirror ``orderops.storage.tables.rate_limits``. Both tables are
tenant-owned, so both get row-level security; they start empty (no limit is overridden,
no window counted), so nothing is lost going down and up.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0024_rate_limits"
down_revision: str | None = "0023_key_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
TABLES = ("rate_limit_windows", "tenant_rate_limits")


def _tenant(table: str) -> tuple[sa.Column[str], sa.ForeignKeyConstraint]:
    return (
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f(f"fk_{table}_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
    )


def upgrade() -> None:
    op.create_table(
        "rate_limit_windows",
        *_tenant("rate_limit_windows"),
        sa.Column("bucket", sa.String(length=100), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_ends_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "bucket", name=op.f("pk_rate_limit_windows")),
    )
    op.create_table(
        "tenant_rate_limits",
        *_tenant("tenant_rate_limits"),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("partition", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("set_at", UTC, nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "scope", "partition", name=op.f("pk_tenant_rate_limits")
        ),
    )
    for table in TABLES:
        protect(table)


def downgrade() -> None:
    for table in reversed(TABLES):
        unprotect(table)
        op.drop_table(table)
