"""outbound webhook subscriptions and their delivery log (issue #15 item 4)

Revision ID: 0040_outbound_webhooks
Revises: 0039_idempotency_keys

Written by hand to mirror ``orderops.storage.tables.outbound_webhooks``. Two tenant-owned
tables keyed by tenant first, under row-level security as soon as they exist
(``row_security.protect``). The events themselves are ``outbox`` rows (system
``webhook``), so nothing else changes. Downgrade drops both tables; queued webhook rows
stay in the outbox and are never claimed (no deliverer knows system ``webhook`` then).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base
from orderops.storage.migrations.row_security import protect, unprotect

revision: str = "0040_outbound_webhooks"
down_revision: str | None = "0039_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = orderops.storage.base.UtcDateTime(timezone=True)
JSON = orderops.storage.base.JsonType
SUBSCRIPTIONS = "webhook_subscriptions"
ATTEMPTS = "webhook_send_attempts"


def upgrade() -> None:
    op.create_table(
        SUBSCRIPTIONS,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("event_types", JSON, nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=False),
        sa.Column("previous_secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("previous_secret_until", UTC, nullable=True),
        sa.Column("secret_version", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("disabled_at", UTC, nullable=True),
        sa.Column("failing_since", UTC, nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=f"fk_{SUBSCRIPTIONS}_tenant_id_tenants",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{SUBSCRIPTIONS}"),
    )
    op.create_index(f"ix_{SUBSCRIPTIONS}_id", SUBSCRIPTIONS, ["id"])
    op.create_index(
        "ix_webhook_subscriptions_tenant_enabled", SUBSCRIPTIONS, ["tenant_id", "enabled"]
    )
    protect(SUBSCRIPTIONS)

    op.create_table(
        ATTEMPTS,
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("attempted_at", UTC, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=f"fk_{ATTEMPTS}_tenant_id_tenants",
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "subscription_id"],
            [f"{SUBSCRIPTIONS}.tenant_id", f"{SUBSCRIPTIONS}.id"],
            name=f"fk_{ATTEMPTS}_subscription_id_{SUBSCRIPTIONS}",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "message_id"],
            ["outbox.tenant_id", "outbox.id"],
            name=f"fk_{ATTEMPTS}_message_id_outbox",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=f"pk_{ATTEMPTS}"),
    )
    op.create_index(f"ix_{ATTEMPTS}_id", ATTEMPTS, ["id"])
    op.create_index(
        "ix_webhook_send_attempts_subscription",
        ATTEMPTS,
        ["tenant_id", "subscription_id", "attempted_at"],
    )
    op.create_index("ix_webhook_send_attempts_message", ATTEMPTS, ["tenant_id", "message_id"])
    protect(ATTEMPTS)


def downgrade() -> None:
    unprotect(ATTEMPTS)
    op.drop_table(ATTEMPTS)
    unprotect(SUBSCRIPTIONS)
    op.drop_table(SUBSCRIPTIONS)
