"""access_scopes: scopes below the tenant (brand, store, channel, region)

Revision ID: 0026_access_scopes
Revises: 0025_usage_metering
Create Date: 2026-12-04 10:00:00

Mirrors ``domain/scopes.py``: orders and cases gain where they sit (``brand``, ``store``,
``channel``, ``region``; null where the order does not say), users, API keys and queues
gain the scope they are limited to (JSON, null: unrestricted), and ``brand_rules`` holds a
tenant's brands by store or by order tag. Existing orders and cases keep null values
until their order is next updated (a store's brand rule places its orders at once), so
nothing already there is hidden from unscoped people, and a scoped person sees an order
once it is placed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0026_access_scopes"
down_revision: str | None = "0025_usage_metering"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PLACED = ("orders", "cases")
"""Tables that record where a row sits on each dimension."""
LIMITED = ("users", "api_keys", "queues")
"""Tables whose rows carry a scope."""
DIMENSIONS = ("brand", "store", "channel", "region")


def upgrade() -> None:
    # Plain ALTER TABLE, never a batch rebuild: SQLite adds nullable columns in place, and
    # rebuilding orders, cases, users or api_keys would drop tables others reference.
    for table in PLACED:
        for dimension in DIMENSIONS:
            op.add_column(table, sa.Column(dimension, sa.String(length=64), nullable=True))
    for table in LIMITED:
        op.add_column(table, sa.Column("scope", orderops.storage.base.JsonType, nullable=True))
    op.create_table(
        "brand_rules",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_brand_rules_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_brand_rules")),
        sa.UniqueConstraint(
            "tenant_id", "kind", "value", name=op.f("uq_brand_rules_tenant_id_kind_value")
        ),
    )
    op.create_index(op.f("ix_brand_rules_id"), "brand_rules", ["id"], unique=False)
    protect("brand_rules")


def downgrade() -> None:
    unprotect("brand_rules")
    op.drop_index(op.f("ix_brand_rules_id"), table_name="brand_rules")
    op.drop_table("brand_rules")
    for table in reversed(LIMITED):
        op.drop_column(table, "scope")
    for table in reversed(PLACED):
        for dimension in reversed(DIMENSIONS):
            op.drop_column(table, dimension)
