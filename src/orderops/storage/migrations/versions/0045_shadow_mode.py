"""shadow_mode: shadow mode (issue #17 item 2)

Revision ID: 0045_shadow_mode
Revises: 0044_backtest_runs

Written by hand to mirror ``orderops.storage.tables.shadow``. ``shadow_candidates`` (every
candidate policy a tenant ran in shadow, at most one running per tenant: a partial unique
index) and ``shadow_decisions`` (what the running candidate would have opened and cleared,
one open row per candidate, order and type: a partial unique index) are tenant-owned,
keyed by tenant first and under row-level security from the start. Downgrade drops both.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0045_shadow_mode"
down_revision: str | None = "0044_backtest_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
CANDIDATES = "shadow_candidates"
DECISIONS = "shadow_decisions"
RUNNING = sa.text("status IN ('active', 'promotion_proposed')")
OPEN = sa.text("status = 'open'")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="RESTRICT"
    )


def upgrade() -> None:
    op.create_table(
        CANDIDATES,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("stopped_by", sa.String(length=200), nullable=True),
        sa.Column("stopped_at", UTC, nullable=True),
        sa.Column("proposed_by", sa.String(length=200), nullable=True),
        sa.Column("proposed_at", UTC, nullable=True),
        sa.Column("promoted_by", sa.String(length=200), nullable=True),
        sa.Column("promoted_at", UTC, nullable=True),
        sa.Column("promoted_versions", JSON, nullable=True),
        _tenant_fk(CANDIDATES),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{CANDIDATES}"),
        sa.UniqueConstraint("tenant_id", "version", name=f"uq_{CANDIDATES}_tenant_id_version"),
    )
    op.create_index(f"ix_{CANDIDATES}_id", CANDIDATES, ["id"])
    op.create_index(
        "uq_shadow_candidates_one_running",
        CANDIDATES,
        ["tenant_id"],
        unique=True,
        sqlite_where=RUNNING,
        postgresql_where=RUNNING,
    )
    protect(CANDIDATES)
    op.create_table(
        DECISIONS,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("candidate_id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("exception_type", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence_key", sa.String(length=300), nullable=False),
        sa.Column("inbox_id", sa.String(length=32), nullable=True),
        sa.Column("opened_at", UTC, nullable=False),
        sa.Column("cleared_at", UTC, nullable=True),
        sa.Column("live_case_id", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("outcome", JSON, nullable=False),
        _tenant_fk(DECISIONS),
        sa.ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            [f"{CANDIDATES}.tenant_id", f"{CANDIDATES}.id"],
            name=f"fk_{DECISIONS}_candidate_id_{CANDIDATES}",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{DECISIONS}"),
    )
    op.create_index(f"ix_{DECISIONS}_id", DECISIONS, ["id"])
    op.create_index(
        "uq_shadow_decisions_open_per_order_type",
        DECISIONS,
        ["tenant_id", "candidate_id", "order_id", "exception_type"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index(
        "ix_shadow_decisions_tenant_candidate_opened",
        DECISIONS,
        ["tenant_id", "candidate_id", "opened_at"],
    )
    protect(DECISIONS)


def downgrade() -> None:
    unprotect(DECISIONS)
    op.drop_table(DECISIONS)
    unprotect(CANDIDATES)
    op.drop_table(CANDIDATES)
