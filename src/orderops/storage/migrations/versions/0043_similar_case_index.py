"""similar_case_index: cases read by what changed last (issue #16 item 5)

Revision ID: 0043_similar_case_index
Revises: 0042_model_registry

The similar-case index (``recommend/history_index.py``) is kept in each process and
brought up to date before every query by asking which cases changed since it last
looked: ``tenant_id = ? AND updated_at >= ?``. Without an index that is a walk through
every resolved case of the tenant (100,000 of them at a large store) for each
recommendation; with ``ix_cases_tenant_updated`` it is a range read of the few that
changed. Nothing else is stored: what the index holds is read from the cases, orders,
parcels and tickets themselves, so an erasure there is what the index forgets.
Downgrade drops the index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0043_similar_case_index"
down_revision: str | None = "0042_model_registry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_cases_tenant_updated", "cases", ["tenant_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_cases_tenant_updated", table_name="cases")
