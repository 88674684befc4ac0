"""backtest_pace: a requested backtest names its pace (issue #17)

Revision ID: 0048_backtest_pace
Revises: 0047_backtest_requests

Written by hand to mirror ``orderops.storage.tables.backtests``. ``backtest_runs`` gains
the pace a worker replays a requested run at, as ``orderops backtest`` takes it: minutes
between sweeps (``sweep_minutes``) and minutes of received events fed together
(``tick_minutes``). Runs stored before were replayed at the defaults, 60 and 5, which the
server defaults give them. The table is under row-level security (0044); new columns need
nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0048_backtest_pace"
down_revision: str | None = "0047_backtest_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "backtest_runs"


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sweep_minutes", sa.Integer(), server_default="60", nullable=False)
        )
        batch_op.add_column(
            sa.Column("tick_minutes", sa.Integer(), server_default="5", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_column("tick_minutes")
        batch_op.drop_column("sweep_minutes")
