"""resolve: entity aliases, alias waits, record links, link suggestions, refunds, holds

Revision ID: 0016_resolve
Revises: 0015_sessions_and_audit_keys
Create Date: 2026-12-03 22:28:11

Mirrors ``orderops.storage.tables.resolve`` and ``Order.promise_source``. New tables only
and one nullable column, so existing rows need nothing: the alias table fills as events
are processed (``orderops resolve backfill`` registers the aliases of orders already
stored).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import orderops.storage.base

revision: str = "0016_resolve"
down_revision: str | None = "0015_sessions_and_audit_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fulfillment_holds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("fulfillment_order_ref", sa.String(length=200), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("reasons", orderops.storage.base.JsonType, nullable=False),
        sa.Column("held_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("released_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("status_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_fulfillment_holds_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fulfillment_holds")),
        sa.UniqueConstraint(
            "tenant_id",
            "source",
            "fulfillment_order_ref",
            name=op.f("uq_fulfillment_holds_tenant_id_source_fulfillment_order_ref"),
        ),
    )
    with op.batch_alter_table("fulfillment_holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fulfillment_holds_tenant_order", ["tenant_id", "order_ref"], unique=False
        )

    op.create_table(
        "alias_waits",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("inbox_id", sa.String(length=32), nullable=False),
        sa.Column("alias", sa.String(length=270), nullable=False),
        sa.Column("created_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_id"],
            ["inbox.id"],
            name=op.f("fk_alias_waits_inbox_id_inbox"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_alias_waits_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alias_waits")),
        sa.UniqueConstraint(
            "tenant_id", "inbox_id", "alias", name=op.f("uq_alias_waits_tenant_id_inbox_id_alias")
        ),
    )
    with op.batch_alter_table("alias_waits", schema=None) as batch_op:
        batch_op.create_index("ix_alias_waits_tenant_alias", ["tenant_id", "alias"], unique=False)

    op.create_table(
        "entity_aliases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("entity_type", sa.String(length=16), nullable=False),
        sa.Column("entity_ref", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("inbox_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inbox.id"], name=op.f("fk_entity_aliases_inbox_id_inbox")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_entity_aliases_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entity_aliases")),
        sa.UniqueConstraint(
            "tenant_id",
            "kind",
            "key",
            "entity_type",
            "entity_ref",
            name=op.f("uq_entity_aliases_tenant_id_kind_key_entity_type_entity_ref"),
        ),
    )
    with op.batch_alter_table("entity_aliases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_entity_aliases_tenant_entity",
            ["tenant_id", "entity_type", "entity_ref"],
            unique=False,
        )

    op.create_table(
        "link_suggestions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("record_ref", sa.String(length=260), nullable=False),
        sa.Column("candidates", orderops.storage.base.JsonType, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("inbox_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("chosen_order_ref", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inbox.id"], name=op.f("fk_link_suggestions_inbox_id_inbox")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_link_suggestions_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_suggestions")),
        sa.UniqueConstraint(
            "tenant_id",
            "record_type",
            "record_ref",
            name=op.f("uq_link_suggestions_tenant_id_record_type_record_ref"),
        ),
    )
    with op.batch_alter_table("link_suggestions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_link_suggestions_tenant_status", ["tenant_id", "status", "created_at"], unique=False
        )

    op.create_table(
        "order_refunds",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("refund_ref", sa.String(length=200), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("processed_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("inbox_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inbox.id"], name=op.f("fk_order_refunds_inbox_id_inbox")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_order_refunds_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_refunds")),
        sa.UniqueConstraint(
            "tenant_id",
            "source",
            "refund_ref",
            name=op.f("uq_order_refunds_tenant_id_source_refund_ref"),
        ),
    )
    with op.batch_alter_table("order_refunds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_refunds_tenant_order", ["tenant_id", "order_ref"], unique=False
        )

    op.create_table(
        "record_links",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("record_ref", sa.String(length=260), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("key_kind", sa.String(length=64), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("inbox_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", orderops.storage.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbox_id"], ["inbox.id"], name=op.f("fk_record_links_inbox_id_inbox")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_record_links_tenant_id_tenants"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_links")),
    )
    with op.batch_alter_table("record_links", schema=None) as batch_op:
        batch_op.create_index(
            "ix_record_links_tenant_order", ["tenant_id", "order_ref"], unique=False
        )
        batch_op.create_index(
            "ix_record_links_tenant_record",
            ["tenant_id", "record_type", "record_ref"],
            unique=False,
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("promise_source", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # SQLite drops a plain column in place (3.35+): a batch copy of ``orders`` would DROP
    # the table under rows that reference it, which foreign keys refuse.
    op.drop_column("orders", "promise_source")

    with op.batch_alter_table("record_links", schema=None) as batch_op:
        batch_op.drop_index("ix_record_links_tenant_record")
        batch_op.drop_index("ix_record_links_tenant_order")

    op.drop_table("record_links")
    with op.batch_alter_table("order_refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_order_refunds_tenant_order")

    op.drop_table("order_refunds")
    with op.batch_alter_table("link_suggestions", schema=None) as batch_op:
        batch_op.drop_index("ix_link_suggestions_tenant_status")

    op.drop_table("link_suggestions")
    with op.batch_alter_table("entity_aliases", schema=None) as batch_op:
        batch_op.drop_index("ix_entity_aliases_tenant_entity")

    op.drop_table("entity_aliases")
    with op.batch_alter_table("alias_waits", schema=None) as batch_op:
        batch_op.drop_index("ix_alias_waits_tenant_alias")

    op.drop_table("alias_waits")
    with op.batch_alter_table("fulfillment_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfillment_holds_tenant_order")

    op.drop_table("fulfillment_holds")
