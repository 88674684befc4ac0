"""vendor_connections: vendor connections per tenant and environment

Revision ID: 0028_vendor_connections
Revises: 0027_inbox_notify
Create Date: 2026-12-04 13:30:00

Written by hand to mirror ``orderops.storage.tables.vendor_connections``. One tenant-owned
table, keyed by tenant first (``storage/tables/keys.py``), unique on (tenant, system), and
put under row-level security as soon as it exists (``row_security.protect``). Credentials
are Fernet tokens sealed by the application; the migration never sees a plaintext.
Downgrade drops the table: every stored vendor connection is lost (``ORDEROPS_WRITEBACK_*``
then applies again to the tenant it names).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0028_vendor_connections"
down_revision: str | None = "0027_inbox_notify"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
TABLE = "vendor_connections"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=True),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("secret_fingerprint", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=8), nullable=False),
        sa.Column("allow_test_mode", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("rotated_at", UTC, nullable=True),
        sa.Column("rotated_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{TABLE}_tenant_id_tenants", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{TABLE}"),
        sa.UniqueConstraint("tenant_id", "system", name=f"uq_{TABLE}_tenant_id_system"),
    )
    op.create_index(f"ix_{TABLE}_id", TABLE, ["id"])
    protect(TABLE)


def downgrade() -> None:
    unprotect(TABLE)
    op.drop_table(TABLE)
