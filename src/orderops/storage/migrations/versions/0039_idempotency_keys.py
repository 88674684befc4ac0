"""idempotency keys for state-changing API requests (issue #15 item 4)

Revision ID: 0039_idempotency_keys
Revises: 0038_retention_windows

Written by hand to mirror ``orderops.storage.tables.idempotency``. One tenant-owned
table keyed by tenant, key owner and key: the primary key is what lets only one of two
concurrent requests with the same key execute. Under row-level security from the start
(``row_security.protect``). Downgrade drops it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0039_idempotency_keys"
down_revision: str | None = "0038_retention_windows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
TABLE = "idempotency_keys"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_content_type", sa.String(length=100), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{TABLE}_tenant_id_tenants", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "owner", "idempotency_key", name=f"pk_{TABLE}"),
    )
    protect(TABLE)


def downgrade() -> None:
    unprotect(TABLE)
    op.drop_table(TABLE)
