"""message_delivery: a customer message goes out through the outbox and its delivery is read back

Revision ID: 0032_message_delivery
Revises: 0031_reconciliation
Create Date: 2026-12-04 14:50:00

``communications.outbox_id`` names the outbox row that carries the message (NULL until it
is sent), so the worker's settled hook finds the message from the row it settled (indexed
with the tenant first, as every lookup here is); ``delivery_ref`` is the vendor's id for
what was written (the Zendesk ticket) and ``delivery_error`` the vendor's reason when it
refused. Plain nullable columns, added in place on both databases: existing messages keep
their status ("sent" meant "marked sent by hand" and still does). Downgrade drops them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_message_delivery"
down_revision: str | None = "0031_reconciliation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("communications", sa.Column("outbox_id", sa.String(32), nullable=True))
    op.add_column("communications", sa.Column("delivery_ref", sa.String(200), nullable=True))
    op.add_column("communications", sa.Column("delivery_error", sa.Text(), nullable=True))
    op.create_index("ix_communications_tenant_outbox", "communications", ["tenant_id", "outbox_id"])


def downgrade() -> None:
    op.drop_index("ix_communications_tenant_outbox", table_name="communications")
    with op.batch_alter_table("communications") as batch:
        batch.drop_column("delivery_error")
        batch.drop_column("delivery_ref")
        batch.drop_column("outbox_id")
