"""detector facts: when payments were authorised, captured and refunded; first carrier scan
and last carrier message of shipments; shortfall stretches of order lines; the sweep's
next check time of orders

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_check_at", UTC, nullable=True))
        batch_op.create_index(
            "ix_orders_tenant_next_check_at", ["tenant_id", "next_check_at"], unique=False
        )
    # Orders that existed before the sweep kept a work list are all worth one look.
    op.execute("UPDATE orders SET next_check_at = created_at")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("short_since", UTC, nullable=True))
        batch_op.add_column(sa.Column("short_cleared_at", UTC, nullable=True))
        batch_op.create_index("ix_order_lines_tenant_sku", ["tenant_id", "sku"], unique=False)
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("authorized_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("captured_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("refunded_at", UTC, nullable=True))
    op.execute("UPDATE payments SET authorized_at = status_at WHERE status = 'authorized'")
    op.execute(
        "UPDATE payments SET captured_at = status_at "
        "WHERE status IN ('captured', 'refunded', 'partially_refunded')"
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_scan_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("last_message", sa.Text(), nullable=True))
    op.execute(
        "UPDATE shipments SET first_scan_at = ("
        "SELECT MIN(t.occurred_at) FROM tracking_events t "
        "WHERE t.shipment_id = shipments.id AND t.status <> 'label_created')"
    )


def downgrade() -> None:
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_column("last_message")
        batch_op.drop_column("first_scan_at")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("refunded_at")
        batch_op.drop_column("captured_at")
        batch_op.drop_column("authorized_at")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_order_lines_tenant_sku")
        batch_op.drop_column("short_cleared_at")
        batch_op.drop_column("short_since")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_tenant_next_check_at")
        batch_op.drop_column("next_check_at")
