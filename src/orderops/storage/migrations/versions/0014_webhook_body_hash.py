"""webhook body hash lookup: find an earlier delivery of the same bytes per tenant and source

Revision ID: 0014_webhook_body_hash
Revises: 0013_identity_provenance
Create Date: 2026-12-08 10:00:00

Every delivery row already keeps ``body_sha256`` (its uniqueness with the delivery id is
what makes a provider's retry harmless). A Shopify body resent under another topic comes
with a new delivery id, so finding it needs the hash alone: this index on (tenant, source,
body hash) makes that lookup one index probe on every accepted webhook.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014_webhook_body_hash"
down_revision: str | None = "0013_identity_provenance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_webhook_deliveries_tenant_body_sha256"


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(INDEX, ["tenant_id", "source", "body_sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
