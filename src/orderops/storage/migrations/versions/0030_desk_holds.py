"""desk_holds: holds as records with a reason, an owner and an expiry

Revision ID: 0030_desk_holds
Revises: 0029_playbook_pins
Create Date: 2026-12-04 13:30:00

Written by hand to mirror ``orderops.storage.tables.holds``. One tenant-owned table, keyed
by tenant first (``storage/tables/keys.py``), its case and action referenced with the
tenant, unique on (tenant, place message), and put under row-level security as soon as it
exists (``row_security.protect``). Holds placed before this revision have no record; they
stay as Shopify has them. Downgrade drops the table: the desk forgets its holds, and no
automatic release happens for the ones still placed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0030_desk_holds"
down_revision: str | None = "0029_playbook_pins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
TABLE = "desk_holds"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("action_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("placed_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("release_requested_at", UTC, nullable=True),
        sa.Column("released_at", UTC, nullable=True),
        sa.Column("release_reason", sa.String(length=16), nullable=True),
        sa.Column("released_by", sa.String(length=200), nullable=True),
        sa.Column("place_outbox_id", sa.String(length=32), nullable=False),
        sa.Column("release_outbox_id", sa.String(length=32), nullable=True),
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
        sa.UniqueConstraint(
            "tenant_id", "place_outbox_id", name=f"uq_{TABLE}_tenant_id_place_outbox_id"
        ),
    )
    op.create_index(f"ix_{TABLE}_id", TABLE, ["id"])
    op.create_index(f"ix_{TABLE}_tenant_case", TABLE, ["tenant_id", "case_id"])
    op.create_index(
        f"ix_{TABLE}_tenant_status_expires", TABLE, ["tenant_id", "status", "expires_at"]
    )
    protect(TABLE)


def downgrade() -> None:
    unprotect(TABLE)
    op.drop_table(TABLE)
