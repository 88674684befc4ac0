"""access and approvals: users, approval policy versions, case pins, decision columns

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-27 14:00:00

Written by hand to mirror ``orderops.storage.tables.access`` and the decision columns of
``actions``, ``approvals`` and ``api_keys``. ``actions`` only gains nullable columns and an
index, which SQLite adds in place: recreating it would cascade-delete its approvals.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import orderops.storage.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = orderops.storage.base.UtcDateTime(timezone=True)
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="RESTRICT",
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("disabled_at", UTC_DATETIME, nullable=True),
        _tenant_fk("users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("tenant_id", "email", name=op.f("uq_users_tenant_id_email")),
    )
    op.create_table(
        "approval_policies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", JSON_TYPE, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        _tenant_fk("approval_policies"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_policies")),
        sa.UniqueConstraint(
            "tenant_id", "version", name=op.f("uq_approval_policies_tenant_id_version")
        ),
    )
    op.create_table(
        "case_policy_pins",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("pinned_at", UTC_DATETIME, nullable=False),
        sa.Column("decision_round", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_policy_pins_case_id_cases"),
            ondelete="CASCADE",
        ),
        _tenant_fk("case_policy_pins"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_policy_pins")),
        sa.UniqueConstraint(
            "tenant_id", "case_id", name=op.f("uq_case_policy_pins_tenant_id_case_id")
        ),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", UTC_DATETIME, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_user_id_users"), "users", ["user_id"], ["id"]
        )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("policy_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("evaluation", JSON_TYPE, nullable=True))
        batch_op.add_column(sa.Column("auto_rule", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("expires_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("decided_at", UTC_DATETIME, nullable=True))
        batch_op.create_index(
            "ix_actions_tenant_status_expires",
            ["tenant_id", "status", "expires_at"],
            unique=False,
        )
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("policy_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("bulk_id", sa.String(length=32), nullable=True))
        batch_op.create_index(
            "uq_approvals_tenant_action_approver",
            ["tenant_id", "action_id", "approver"],
            unique=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("approvals", schema=None) as batch_op:
        batch_op.drop_index("uq_approvals_tenant_action_approver")
        batch_op.drop_column("bulk_id")
        batch_op.drop_column("policy_version")
        batch_op.drop_column("role")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_tenant_status_expires")
        batch_op.drop_column("decided_at")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("auto_rule")
        batch_op.drop_column("evaluation")
        batch_op.drop_column("policy_version")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_keys_user_id_users"), type_="foreignkey")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("user_id")
    op.drop_table("case_policy_pins")
    op.drop_table("approval_policies")
    op.drop_table("users")
