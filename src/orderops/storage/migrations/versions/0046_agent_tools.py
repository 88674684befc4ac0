"""agent_tools: money limits per API key on the agents' tool API (issue #17 item 3)

Revision ID: 0046_agent_tools
Revises: 0045_shadow_mode

Written by hand to mirror ``orderops.storage.tables.agent_limits``. Two tenant-owned
tables keyed by tenant first, under row-level security as soon as they exist
(``row_security.protect``): ``agent_key_limits`` (the most one proposal and one day's
proposals of a key may move) and ``agent_proposals`` (what each key proposed through the
tool API, summed per UTC day). Downgrade drops both: agents then move no money.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0046_agent_tools"
down_revision: str | None = "0045_shadow_mode"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
LIMITS = "agent_key_limits"
PROPOSALS = "agent_proposals"


def _tenant_fk(table: str, column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{parent}.tenant_id", f"{parent}.id"],
        name=f"fk_{table}_{column}_{parent}",
    )


def _tenant(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="RESTRICT"
    )


def upgrade() -> None:
    op.create_table(
        LIMITS,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("per_action_minor", sa.BigInteger(), nullable=False),
        sa.Column("per_day_minor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        _tenant(LIMITS),
        _tenant_fk(LIMITS, "key_id", "api_keys"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{LIMITS}"),
        sa.UniqueConstraint("tenant_id", "key_id", name=f"uq_{LIMITS}_tenant_id_key_id"),
    )
    op.create_index(f"ix_{LIMITS}_id", LIMITS, ["id"])
    protect(LIMITS)
    op.create_table(
        PROPOSALS,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("action_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("proposed_at", UTC, nullable=False),
        _tenant(PROPOSALS),
        _tenant_fk(PROPOSALS, "key_id", "api_keys"),
        _tenant_fk(PROPOSALS, "action_id", "actions"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{PROPOSALS}"),
    )
    op.create_index(f"ix_{PROPOSALS}_id", PROPOSALS, ["id"])
    op.create_index("ix_agent_proposals_tenant_key_day", PROPOSALS, ["tenant_id", "key_id", "day"])
    protect(PROPOSALS)


def downgrade() -> None:
    unprotect(PROPOSALS)
    op.drop_index("ix_agent_proposals_tenant_key_day", table_name=PROPOSALS)
    op.drop_index(f"ix_{PROPOSALS}_id", table_name=PROPOSALS)
    op.drop_table(PROPOSALS)
    unprotect(LIMITS)
    op.drop_index(f"ix_{LIMITS}_id", table_name=LIMITS)
    op.drop_table(LIMITS)
