"""recommendations: tenant playbooks, recommendations and their drafts, the language-model
meter, one-voice message keys, dispute evidence packs

Revision ID: 0011
Revises: 0007
Create Date: 2026-12-05 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import orderops.storage.base

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
UTC = orderops.storage.base.UtcDateTime(timezone=True)


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="RESTRICT",
    )


def upgrade() -> None:
    op.create_table(
        "tenant_playbooks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", JSON_TYPE, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        _tenant_fk("tenant_playbooks"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_playbooks")),
        sa.UniqueConstraint(
            "tenant_id", "version", name=op.f("uq_tenant_playbooks_tenant_id_version")
        ),
    )
    op.create_table(
        "recommendations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("exception_type", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.String(length=150), nullable=False),
        sa.Column("top_rule", sa.String(length=100), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("body", JSON_TYPE, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_recommendations_case_id_cases"),
            ondelete="CASCADE",
        ),
        _tenant_fk("recommendations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendations")),
    )
    op.create_index(
        "ix_recommendations_tenant_case",
        "recommendations",
        ["tenant_id", "case_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "recommendation_drafts",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("recommendation_id", sa.String(length=32), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("problems", JSON_TYPE, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["recommendation_id"],
            ["recommendations.id"],
            name=op.f("fk_recommendation_drafts_recommendation_id_recommendations"),
            ondelete="CASCADE",
        ),
        _tenant_fk("recommendation_drafts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation_drafts")),
    )
    op.create_index(
        "ix_recommendation_drafts_tenant_rec",
        "recommendation_drafts",
        ["tenant_id", "recommendation_id"],
        unique=False,
    )
    op.create_table(
        "llm_usage",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        _tenant_fk("llm_usage"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_usage")),
    )
    op.create_index("ix_llm_usage_tenant_at", "llm_usage", ["tenant_id", "at"], unique=False)
    op.create_table(
        "customer_message_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("communication_id", sa.String(length=32), nullable=False),
        sa.Column("case_ids", JSON_TYPE, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["communication_id"],
            ["communications.id"],
            name=op.f("fk_customer_message_keys_communication_id_communications"),
            ondelete="CASCADE",
        ),
        _tenant_fk("customer_message_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_message_keys")),
        sa.UniqueConstraint(
            "tenant_id", "dedupe_key", name=op.f("uq_customer_message_keys_tenant_id_dedupe_key")
        ),
    )
    op.create_table(
        "dispute_evidence_packs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("order_ref", sa.String(length=200), nullable=False),
        sa.Column("dispute_ref", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("evidence", JSON_TYPE, nullable=False),
        sa.Column("documents", JSON_TYPE, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", UTC, nullable=True),
        sa.Column("outbox_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_dispute_evidence_packs_case_id_cases"),
            ondelete="CASCADE",
        ),
        _tenant_fk("dispute_evidence_packs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_evidence_packs")),
        sa.UniqueConstraint(
            "tenant_id",
            "dispute_ref",
            name=op.f("uq_dispute_evidence_packs_tenant_id_dispute_ref"),
        ),
    )


def downgrade() -> None:
    op.drop_table("dispute_evidence_packs")
    op.drop_table("customer_message_keys")
    op.drop_index("ix_llm_usage_tenant_at", table_name="llm_usage")
    op.drop_table("llm_usage")
    op.drop_index("ix_recommendation_drafts_tenant_rec", table_name="recommendation_drafts")
    op.drop_table("recommendation_drafts")
    op.drop_index("ix_recommendations_tenant_case", table_name="recommendations")
    op.drop_table("recommendations")
    op.drop_table("tenant_playbooks")
