"""case_timer_lookup: a case's timers found by case, pending or not (issue #19)

Revision ID: 0049_case_timer_lookup
Revises: 0048_backtest_pace

Written by hand to mirror ``orderops.storage.tables.queues``. The jeopardy sweep asks,
for each open case whose tier may be stale, whether any of its SLA clocks already
breached (``cases/jeopardy.py``); the only index by case was the partial one over pending
timers, so on SQLite each question scanned the tenant's fired timers. The table is under
row-level security (0044); an index needs nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0049_case_timer_lookup"
down_revision: str | None = "0048_backtest_pace"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_timers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_timers_tenant_case", ["tenant_id", "case_id", "kind"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("case_timers", schema=None) as batch_op:
        batch_op.drop_index("ix_case_timers_tenant_case")
