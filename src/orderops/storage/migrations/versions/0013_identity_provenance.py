"""identity provenance: who created, re-roled, reset or keyed each identity, and when;
the maker of each dispute evidence pack

Revision ID: 0013_identity_provenance
Revises: 0012_bigint_money_and_bounds
Create Date: 2026-12-08 09:00:00

Written by hand to mirror ``IdentityAct`` in ``orderops.storage.tables.access`` and
``DisputeEvidencePack.assembled_by``. The acts already in the audit log (users added, keys
issued and revoked, roles changed, passwords set) are copied into ``identity_acts``, so an identity made
just before the upgrade is judged like one made after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import orderops.storage.base

revision: str = "0013_identity_provenance"
down_revision: str | None = "0012_bigint_money_and_bounds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = orderops.storage.base.UtcDateTime(timezone=True)
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

_AUDIT = sa.table(
    "audit_log",
    sa.column("tenant_id", sa.String),
    sa.column("seq", sa.Integer),
    sa.column("at", UTC_DATETIME),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("entity_id", sa.String),
    sa.column("data", JSON_TYPE),
)
_ACTS = sa.table(
    "identity_acts",
    sa.column("id", sa.String),
    sa.column("tenant_id", sa.String),
    sa.column("user_id", sa.String),
    sa.column("key_id", sa.String),
    sa.column("act", sa.String),
    sa.column("actor", sa.String),
    sa.column("at", UTC_DATETIME),
)
_KEYS = sa.table("api_keys", sa.column("id", sa.String), sa.column("user_id", sa.String))
_USERS = sa.table("users", sa.column("id", sa.String))
_FROM_AUDIT = {
    "user.added": "created",
    "user.role_changed": "role_changed",
    "user.password_set": "password_set",
    "api_key.issued": "key_issued",
    "api_key.revoked": "key_revoked",
}


def upgrade() -> None:
    op.create_table(
        "identity_acts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("key_id", sa.String(length=32), nullable=True),
        sa.Column("act", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_identity_acts_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_identity_acts_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["api_keys.id"], name=op.f("fk_identity_acts_key_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_acts")),
    )
    op.create_index(
        "ix_identity_acts_tenant_user_at", "identity_acts", ["tenant_id", "user_id", "at"]
    )
    with op.batch_alter_table("dispute_evidence_packs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assembled_by", sa.String(length=200), nullable=True))
    _copy_acts_from_the_audit_log()


def _copy_acts_from_the_audit_log() -> None:
    bind = op.get_bind()
    key_owner = {key: user for key, user in bind.execute(sa.select(_KEYS.c.id, _KEYS.c.user_id))}
    users = set(bind.execute(sa.select(_USERS.c.id)).scalars())
    records = bind.execute(
        sa.select(_AUDIT)
        .where(_AUDIT.c.action.in_(list(_FROM_AUDIT)))
        .order_by(_AUDIT.c.tenant_id, _AUDIT.c.seq)
    ).mappings()
    rows: list[dict[str, Any]] = []
    for record in records:
        is_key = record["action"].startswith("api_key.")
        key_id = record["entity_id"] if is_key else None
        if (key_id not in key_owner) if is_key else (record["entity_id"] not in users):
            continue
        rows.append(
            {
                "id": uuid.uuid4().hex,
                "tenant_id": record["tenant_id"],
                "user_id": key_owner[key_id] if is_key else record["entity_id"],
                "key_id": key_id,
                "act": _FROM_AUDIT[record["action"]],
                "actor": record["actor"],
                "at": record["at"],
            }
        )
    if rows:
        op.bulk_insert(_ACTS, rows)


def downgrade() -> None:
    with op.batch_alter_table("dispute_evidence_packs", schema=None) as batch_op:
        batch_op.drop_column("assembled_by")
    op.drop_index("ix_identity_acts_tenant_user_at", table_name="identity_acts")
    op.drop_table("identity_acts")
