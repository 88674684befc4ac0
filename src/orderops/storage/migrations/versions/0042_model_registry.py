"""the model registry: a tenant's model versions with their bytes (issue #16 item 1)

Revision ID: 0042_model_registry
Revises: 0041_ticket_classes

Written by hand to mirror ``orderops.storage.tables.model_registry``. One tenant-owned
table keyed by tenant first, under row-level security as soon as it exists
(``row_security.protect``); a partial unique index keeps one promoted version per tenant
and kind. Downgrade drops the table: the worker then scores with the shipped default.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0042_model_registry"
down_revision: str | None = "0041_ticket_classes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
JSON = orderops.storage.base.JsonType
TABLE = "model_versions"
PROMOTED = sa.text("status = 'promoted'")


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("artifact_format", sa.String(length=16), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=False),
        sa.Column("artifact_bytes", sa.Integer(), nullable=False),
        sa.Column("trained_from", UTC, nullable=True),
        sa.Column("trained_to", UTC, nullable=True),
        sa.Column("training", JSON, nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("shadow", JSON, nullable=True),
        sa.Column("evaluated_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("promoted_at", UTC, nullable=True),
        sa.Column("promoted_by", sa.String(length=200), nullable=True),
        sa.Column("retired_at", UTC, nullable=True),
        sa.Column("retired_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=f"fk_{TABLE}_tenant_id_tenants",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{TABLE}"),
        sa.UniqueConstraint(
            "tenant_id", "kind", "number", name=f"uq_{TABLE}_tenant_id_kind_number"
        ),
    )
    op.create_index(f"ix_{TABLE}_id", TABLE, ["id"])
    op.create_index(
        "uq_model_versions_promoted",
        TABLE,
        ["tenant_id", "kind"],
        unique=True,
        sqlite_where=PROMOTED,
        postgresql_where=PROMOTED,
    )
    protect(TABLE)


def downgrade() -> None:
    unprotect(TABLE)
    op.drop_index("uq_model_versions_promoted", table_name=TABLE)
    op.drop_index(f"ix_{TABLE}_id", table_name=TABLE)
    op.drop_table(TABLE)
