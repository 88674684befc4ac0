"""payments.failed_at: when the provider first declined the payment

Revision ID: 0017_payment_failed_at
Revises: 0016_resolve
Create Date: 2026-12-03 23:50:00

A decline is a payment outcome even when the intent is voided later (the order cancelled
after the customer never paid); ``status_at`` moves with the void, so the first decline
needs a column of its own. Rows still failed get their ``status_at``; rows already
voided after a decline cannot be told apart and stay NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base

revision: str = "0017_payment_failed_at"
down_revision: str | None = "0016_resolve"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain nullable column: both databases add it in place (no batch copy of payments).
    op.add_column(
        "payments",
        sa.Column("failed_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=True),
    )
    op.execute("UPDATE payments SET failed_at = status_at WHERE status = 'failed'")


def downgrade() -> None:
    op.drop_column("payments", "failed_at")
