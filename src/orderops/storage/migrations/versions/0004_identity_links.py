"""identity links: revisions, customer links, order links

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 13:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_revisions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("undoes", sa.Integer(), nullable=True),
        sa.Column("at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_identity_revisions_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_revisions")),
        sa.UniqueConstraint(
            "tenant_id", "revision", name=op.f("uq_identity_revisions_tenant_id_revision")
        ),
    )
    op.create_table(
        "customer_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=False),
        sa.Column("golden_id", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_links_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_customer_links_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_links")),
        sa.UniqueConstraint(
            "tenant_id",
            "customer_id",
            "revision",
            name=op.f("uq_customer_links_tenant_id_customer_id_revision"),
        ),
    )
    with op.batch_alter_table("customer_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_links_tenant_golden", ["tenant_id", "golden_id"], unique=False
        )

    op.create_table(
        "order_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("created_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_links_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_order_links_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_links")),
        sa.UniqueConstraint(
            "tenant_id",
            "record_type",
            "record_id",
            name=op.f("uq_order_links_tenant_id_record_type_record_id"),
        ),
    )
    with op.batch_alter_table("order_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_links_tenant_order", ["tenant_id", "order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("order_links", schema=None) as batch_op:
        batch_op.drop_index("ix_order_links_tenant_order")
    op.drop_table("order_links")
    with op.batch_alter_table("customer_links", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_links_tenant_golden")
    op.drop_table("customer_links")
    op.drop_table("identity_revisions")
