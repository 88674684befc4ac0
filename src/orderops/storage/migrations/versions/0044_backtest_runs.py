"""backtest_runs: backtest reports (issue #17 item 1)

Revision ID: 0044_backtest_runs
Revises: 0043_similar_case_index

Written by hand to mirror ``orderops.storage.tables.backtests``. One tenant-owned table
keyed by tenant first, under row-level security as soon as it exists
(``row_security.protect``). Downgrade drops it: the reports go, nothing else reads them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0044_backtest_runs"
down_revision: str | None = "0043_similar_case_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
JSON = orderops.storage.base.JsonType
TABLE = "backtest_runs"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("window_from", UTC, nullable=False),
        sa.Column("window_to", UTC, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("changed_cases", sa.Integer(), nullable=False),
        sa.Column("candidate_text", sa.Text(), nullable=False),
        sa.Column("policy_diff", JSON, nullable=False),
        sa.Column("report", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=f"fk_{TABLE}_tenant_id_tenants",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{TABLE}"),
    )
    op.create_index(f"ix_{TABLE}_id", TABLE, ["id"])
    op.create_index("ix_backtest_runs_tenant_created", TABLE, ["tenant_id", "created_at"])
    protect(TABLE)


def downgrade() -> None:
    unprotect(TABLE)
    op.drop_index("ix_backtest_runs_tenant_created", table_name=TABLE)
    op.drop_index(f"ix_{TABLE}_id", table_name=TABLE)
    op.drop_table(TABLE)
