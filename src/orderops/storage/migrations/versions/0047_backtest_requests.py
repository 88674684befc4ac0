"""backtest_requests: backtests requested over the API, queued for a worker (issue #17)

Revision ID: 0047_backtest_requests
Revises: 0046_agent_tools

Written by hand to mirror ``orderops.storage.tables.backtests``. ``backtest_runs`` gains a
status (``queued``, ``running``, ``done``, ``failed``; the runs the CLI stored before are
``done``), the reason of a failure, the worker's lease (``attempts``, ``leased_by``,
``leased_until``) and when the run started and finished, and an index leading with the
tenant, then the status, for the worker's claim (the tenant's oldest queued run). The
table is already under row-level security (0044); new columns need nothing more.
Downgrade drops the requested runs that never finished (they have no report to keep),
then the index and the columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base

revision: str = "0047_backtest_requests"
down_revision: str | None = "0046_agent_tools"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
TABLE = "backtest_runs"
INDEX = "ix_backtest_runs_tenant_status"


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="done", nullable=False)
        )
        batch_op.add_column(sa.Column("failure", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("leased_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("leased_until", UTC, nullable=True))
        batch_op.add_column(sa.Column("started_at", UTC, nullable=True))
        batch_op.add_column(sa.Column("finished_at", UTC, nullable=True))
    op.create_index(INDEX, TABLE, ["tenant_id", "status", "created_at"])


def downgrade() -> None:
    op.execute(sa.text(f"DELETE FROM {TABLE} WHERE status <> 'done'"))
    op.drop_index(INDEX, table_name=TABLE)
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_column("finished_at")
        batch_op.drop_column("started_at")
        batch_op.drop_column("leased_until")
        batch_op.drop_column("leased_by")
        batch_op.drop_column("attempts")
        batch_op.drop_column("failure")
        batch_op.drop_column("status")
