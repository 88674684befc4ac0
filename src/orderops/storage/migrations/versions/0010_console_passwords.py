"""console sign-in: a password hash on users

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-01 09:00:00

Written by hand to mirror ``User.password_hash`` in ``orderops.storage.tables.access``.
A nullable column: existing users simply have no console password until one is set.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("password_hash")
