"""sign_in_sso: single sign-on (OpenID Connect) and TOTP codes for console sign-in

Revision ID: 0022_sign_in_sso
Revises: 0021_row_security
Create Date: 2026-12-04 10:00:00

Written by hand to mirror ``orderops.storage.tables.sso`` and the ``users.totp_*`` columns.
Three tenant-owned tables, each keyed by tenant first (``storage/tables/keys.py``) and put
under row-level security as soon as it exists (``row_security.protect``):

- ``sso_configs``: a tenant's OpenID Connect client (at most one), its secret sealed;
- ``sso_logins``: one row per sign-in a browser starts (hashed state, nonce and browser
  secret, sealed PKCE verifier), later what RP-initiated logout needs;
- ``user_identities``: a provider's (issuer, subject) linked to a user.

``users`` gains three nullable columns for TOTP (a sealed secret, when it was enabled, the
last accepted step), added in place on both databases; existing people have none.
Downgrade drops all of it: single sign-on configurations and TOTP enrolments are lost.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0022_sign_in_sso"
down_revision: str | None = "0021_row_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
TABLES = ("sso_configs", "sso_logins", "user_identities")


def _tenant(table: str) -> list[sa.Column[str] | sa.Constraint]:
    """The tenant column, its reference to ``tenants`` and the row id, as every table has."""
    return [
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{table}"),
    ]


def _reference(table: str, column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{parent}.tenant_id", f"{parent}.id"],
        name=f"fk_{table}_{column}_{parent}",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "sso_configs",
        *_tenant("sso_configs"),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column(
            "role_rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("provision", sa.Boolean(), nullable=False),
        sa.Column("allow_passwords", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.UniqueConstraint("tenant_id", name="uq_sso_configs_tenant_id"),
    )
    op.create_index("ix_sso_configs_id", "sso_configs", ["id"])

    op.create_table(
        "sso_logins",
        *_tenant("sso_logins"),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("verifier_ciphertext", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=False),
        sa.Column("next_path", sa.String(length=1000), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("console_session_id", sa.String(length=32), nullable=True),
        sa.Column("id_token_ciphertext", sa.Text(), nullable=True),
        sa.Column("end_session_endpoint", sa.String(length=1000), nullable=True),
        sa.Column("post_logout_redirect_uri", sa.String(length=1000), nullable=True),
        _reference("sso_logins", "console_session_id", "console_sessions"),
        _reference("sso_logins", "user_id", "users"),
    )
    op.create_index("ix_sso_logins_id", "sso_logins", ["id"])
    op.create_index(
        "ix_sso_logins_tenant_console_session", "sso_logins", ["tenant_id", "console_session_id"]
    )
    op.create_index("ix_sso_logins_tenant_expires", "sso_logins", ["tenant_id", "expires_at"])

    op.create_table(
        "user_identities",
        *_tenant("user_identities"),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_signed_in_at", UTC, nullable=False),
        _reference("user_identities", "user_id", "users"),
        sa.UniqueConstraint(
            "tenant_id", "issuer", "subject", name="uq_user_identities_tenant_id_issuer_subject"
        ),
    )
    op.create_index("ix_user_identities_id", "user_identities", ["id"])
    op.create_index("ix_user_identities_tenant_user", "user_identities", ["tenant_id", "user_id"])

    for table in TABLES:
        protect(table)

    # Nullable columns: both databases add them in place (no batch copy of users).
    op.add_column("users", sa.Column("totp_secret_ciphertext", sa.Text(), nullable=True))
    op.add_column("users", sa.Column("totp_enabled_at", UTC, nullable=True))
    op.add_column("users", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("users", "totp_last_step")
    op.drop_column("users", "totp_enabled_at")
    op.drop_column("users", "totp_secret_ciphertext")
    for table in reversed(TABLES):
        unprotect(table)
        op.drop_table(table)
