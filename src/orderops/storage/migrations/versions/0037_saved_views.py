"""saved_views: reviewers' named filter sets; customers indexed by phone for search

Revision ID: 0037_saved_views
Revises: 0036_message_topics
Create Date: 2026-12-04 20:40:00

Written by hand to mirror ``orderops.storage.tables.saved_views``. One tenant-owned
table keyed by tenant first, its person referenced with the tenant, under row-level
security as soon as it exists (``row_security.protect``). Also an index on
``customers (tenant_id, phone)``: the console's search finds a customer by phone number
through it rather than reading the tenant's customers (issue #14). Downgrade drops both.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0037_saved_views"
down_revision: str | None = "0036_message_topics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
TABLE = "saved_views"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{TABLE}_tenant_id_tenants", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            name=f"fk_{TABLE}_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{TABLE}"),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "name", name=f"uq_{TABLE}_tenant_id_user_id_name"
        ),
    )
    op.create_index(f"ix_{TABLE}_id", TABLE, ["id"])
    protect(TABLE)
    op.create_index("ix_customers_tenant_phone", "customers", ["tenant_id", "phone"])


def downgrade() -> None:
    op.drop_index("ix_customers_tenant_phone", table_name="customers")
    unprotect(TABLE)
    op.drop_table(TABLE)
