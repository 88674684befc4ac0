"""customer_choice_offers: the choices a customer was offered through a signed link

Revision ID: 0035_customer_choices
Revises: 0034_proactive_messages
Create Date: 2026-12-04 16:45:00

Written by hand to mirror ``orderops.storage.tables.choices``. One tenant-owned table,
keyed by tenant first (``storage/tables/keys.py``), its case and the action a choice
proposed referenced with the tenant, and put under row-level security as soon as it
exists (``row_security.protect``). Downgrade drops the table: links already sent stop
working (their offer is not found), and the actions they proposed stay.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0035_customer_choices"
down_revision: str | None = "0034_proactive_messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TABLE = "customer_choice_offers"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("exception_type", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("options", JSON, nullable=False),
        sa.Column("display", JSON, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("opened_at", UTC, nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("chosen_option", sa.String(length=32), nullable=True),
        sa.Column("action_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{TABLE}_tenant_id_tenants", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=f"fk_{TABLE}_case_id_cases",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "action_id"],
            ["actions.tenant_id", "actions.id"],
            name=f"fk_{TABLE}_action_id_actions",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{TABLE}"),
    )
    op.create_index(f"ix_{TABLE}_id", TABLE, ["id"])
    op.create_index(f"ix_{TABLE}_tenant_case", TABLE, ["tenant_id", "case_id", "created_at"])
    protect(TABLE)


def downgrade() -> None:
    unprotect(TABLE)
    op.drop_table(TABLE)
