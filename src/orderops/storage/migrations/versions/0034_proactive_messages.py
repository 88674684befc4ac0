"""proactive_messages: notice rules per tenant, one notice row per case and topic, the
customer's locale

Revision ID: 0034_proactive_messages
Revises: 0033_substitution_saga
Create Date: 2026-12-04 16:45:00

Written by hand to mirror ``orderops.storage.tables.notifications`` and
``Customer.locale``. Two tenant-owned tables, keyed by tenant first
(``storage/tables/keys.py``) and put under row-level security as soon as they exist
(``row_security.protect``): ``notification_policies`` (one per tenant; no row means no
proactive messages, the default) and ``customer_notices`` (unique per tenant, case and
topic, so a case's customer is notified once however many workers sweep). A message
that bounces is the ``bounced`` status of ``communications``: a string column, no change.
``customers.locale`` is a plain nullable column, added and dropped in place. Downgrade drops all three;
messages drafted by notices stay as ordinary messages.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0034_proactive_messages"
down_revision: str | None = "0033_substitution_saga"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
POLICIES = "notification_policies"
NOTICES = "customer_notices"


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="RESTRICT"
    )


def upgrade() -> None:
    op.add_column("customers", sa.Column("locale", sa.String(35), nullable=True))
    op.create_table(
        POLICIES,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("rules", orderops.storage.base.JsonType, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        _tenant_fk(POLICIES),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{POLICIES}"),
        sa.UniqueConstraint("tenant_id", name=f"uq_{POLICIES}_tenant_id"),
    )
    op.create_index(f"ix_{POLICIES}_id", POLICIES, ["id"])
    protect(POLICIES)
    op.create_table(
        NOTICES,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("customer_key", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("communication_id", sa.String(length=32), nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.Column("not_before", UTC, nullable=True),
        _tenant_fk(NOTICES),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=f"fk_{NOTICES}_case_id_cases",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{NOTICES}"),
        sa.UniqueConstraint(
            "tenant_id", "case_id", "topic", name=f"uq_{NOTICES}_tenant_id_case_id_topic"
        ),
    )
    op.create_index(f"ix_{NOTICES}_id", NOTICES, ["id"])
    op.create_index(
        f"ix_{NOTICES}_tenant_customer", NOTICES, ["tenant_id", "customer_key", "topic", "at"]
    )
    op.create_index(f"ix_{NOTICES}_tenant_outcome", NOTICES, ["tenant_id", "outcome", "not_before"])
    protect(NOTICES)


def downgrade() -> None:
    unprotect(NOTICES)
    op.drop_table(NOTICES)
    unprotect(POLICIES)
    op.drop_table(POLICIES)
    if op.get_bind().dialect.name == "sqlite":
        # In place (SQLite >= 3.35): a batch rebuild would drop ``customers``, and the drop
        # cascades to every customer's identities.
        op.execute("ALTER TABLE customers DROP COLUMN locale")
    else:
        op.drop_column("customers", "locale")
