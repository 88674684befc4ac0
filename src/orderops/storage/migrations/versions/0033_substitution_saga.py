"""substitution_saga: a saga step may be its saga's point of no return (``pivot``)

Revision ID: 0033_substitution_saga
Revises: 0032_message_delivery
Create Date: 2026-12-04 16:45:00

``writeback_saga_steps.pivot`` marks a step that cannot be undone and commits its saga
(the substitution's refund: money sent back to a card is not taken again). Once a pivot
step is done, a later step's failure undoes nothing: the saga waits, failed, for a person
to retry it forward. A plain boolean, false for every existing step (the reship has no
pivot), added in place on both databases; no new table, so no new row-level security.
Downgrade drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033_substitution_saga"
down_revision: str | None = "0032_message_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "writeback_saga_steps",
        sa.Column("pivot", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("writeback_saga_steps") as batch:
        batch.drop_column("pivot")
