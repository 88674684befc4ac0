"""the ticket classifier's verdict on each support ticket (issue #16 item 2)

Revision ID: 0041_ticket_classes
Revises: 0040_outbound_webhooks

Three nullable columns on ``support_tickets`` (already tenant-keyed and under
row-level security): the class the classifier chose (``domain/ticket_classes.py``),
its confidence, and the model that decided. A ticket from before this revision has
none until its next update is projected. Downgrade drops the columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0041_ticket_classes"
down_revision: str | None = "0040_outbound_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "support_tickets"


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("ticket_class", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("ticket_class_confidence", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("ticket_class_model", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_column("ticket_class_model")
        batch_op.drop_column("ticket_class_confidence")
        batch_op.drop_column("ticket_class")
