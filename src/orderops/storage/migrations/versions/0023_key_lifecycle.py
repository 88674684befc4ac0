"""key_lifecycle: environments, API key expiry and rotation, webhook secret overlap

Revision ID: 0023_key_lifecycle
Revises: 0022_sign_in_sso
Create Date: 2026-12-04 10:00:00

- ``tenants`` gains ``account_id`` and ``environment`` ('live' | 'test'), unique together:
  an environment is a tenant row of its own (``domain/environments.py``). Every existing
  tenant becomes its own account's live environment (``account_id = id``).
- ``api_keys`` gains ``expires_at``, ``rotated_at`` and ``successor_id`` (null for every
  existing key: they keep working, with no expiry).
- ``source_connections`` gains ``previous_secret_ciphertext`` and
  ``previous_secret_until``: the replaced signing secret, accepted until then.

Only columns and one index are added, with plain ``ALTER TABLE``: SQLite cannot add a
constraint without rebuilding the table, and rebuilding ``tenants`` (which every
tenant-owned row references, ``ON DELETE RESTRICT``) or ``api_keys`` (which
``identity_acts`` references) would drop a referenced table. So uniqueness is a unique
index, and ``successor_id`` a plain id. SQLite also adds a NOT NULL column only with a
default: ``account_id`` gets ``''`` there, replaced by the tenant's id in this same
transaction (PostgreSQL adds it nullable, fills it, then sets NOT NULL).

No table is created, so no row-level security is added; ``tenants`` is the registry of
tenants and has none. Downgrade drops what was added; a test environment's tenant row
stays, as a tenant of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base

revision: str = "0023_key_lifecycle"
down_revision: str | None = "0022_sign_in_sso"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCOUNT_INDEX = "uq_tenants_account_id_environment"
KEY_COLUMNS = ("expires_at", "rotated_at", "successor_id")
SOURCE_COLUMNS = ("previous_secret_ciphertext", "previous_secret_until")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column(
        "tenants",
        sa.Column(
            "account_id",
            sa.String(length=64),
            nullable=not sqlite,
            server_default="" if sqlite else None,
        ),
    )
    op.add_column(
        "tenants",
        sa.Column("environment", sa.String(length=8), server_default="live", nullable=False),
    )
    op.execute("UPDATE tenants SET account_id = id")
    if not sqlite:
        op.alter_column("tenants", "account_id", nullable=False)
    op.create_index(ACCOUNT_INDEX, "tenants", ["account_id", "environment"], unique=True)

    when = orderops.storage.base.UtcDateTime(timezone=True)
    op.add_column("api_keys", sa.Column("expires_at", when, nullable=True))
    op.add_column("api_keys", sa.Column("rotated_at", when, nullable=True))
    op.add_column("api_keys", sa.Column("successor_id", sa.String(length=32), nullable=True))

    op.add_column(
        "source_connections", sa.Column("previous_secret_ciphertext", sa.Text(), nullable=True)
    )
    op.add_column("source_connections", sa.Column("previous_secret_until", when, nullable=True))


def downgrade() -> None:
    for column in reversed(SOURCE_COLUMNS):
        op.drop_column("source_connections", column)
    for column in reversed(KEY_COLUMNS):
        op.drop_column("api_keys", column)
    op.drop_index(ACCOUNT_INDEX, table_name="tenants")
    op.drop_column("tenants", "environment")
    op.drop_column("tenants", "account_id")
