"""Recommendations, their drafts, the language-model meter, one-voice keys, dispute packs,
and each tenant's playbook versions.

``uq_customer_message_keys_tenant_id_dedupe_key`` is the database's guarantee that one
message per customer, order and content is queued once, however many cases ask for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class TenantPlaybook(Base):
    __tablename__ = "tenant_playbooks"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "version"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class Recommendation(Base):
    __tablename__ = "recommendations"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases", ondelete="CASCADE"),
        Index("ix_recommendations_tenant_case", "tenant_id", "case_id", "created_at"),
    )

    id: Mapped[str] = row_id(sortable=True)
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str] = mapped_column(String(32))
    order_ref: Mapped[str] = mapped_column(String(200))
    exception_type: Mapped[str] = mapped_column(String(64))
    policy: Mapped[str] = mapped_column(String(150))
    top_rule: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None]
    body: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    playbook_version: Mapped[int | None] = mapped_column(Integer)
    """The tenant playbook version followed (0: the packaged default); None only for a
    recommendation whose stored ``policy`` text did not name one before 0029."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class RecommendationDraft(Base):
    __tablename__ = "recommendation_drafts"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "recommendation_id", "recommendations", ondelete="CASCADE"),
        Index("ix_recommendation_drafts_tenant_rec", "tenant_id", "recommendation_id"),
    )

    id: Mapped[str] = row_id(sortable=True)
    tenant_id: Mapped[str] = tenant_column()
    recommendation_id: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    problems: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class LlmUsage(Base):
    __tablename__ = "llm_usage"
    __table_args__ = (
        tenant_primary_key(),
        Index("ix_llm_usage_tenant_at", "tenant_id", "at"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    at: Mapped[datetime]
    model: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str | None] = mapped_column(String(32))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class CustomerMessageKey(Base):
    """One row per message queued to a customer about an order: the one-voice dedupe key."""

    __tablename__ = "customer_message_keys"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "communication_id", "communications", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "dedupe_key"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    dedupe_key: Mapped[str] = mapped_column(String(64))
    order_ref: Mapped[str] = mapped_column(String(200))
    communication_id: Mapped[str] = mapped_column(String(32))
    case_ids: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class DisputeEvidencePack(Base):
    __tablename__ = "dispute_evidence_packs"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "dispute_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str] = mapped_column(String(32))
    order_ref: Mapped[str] = mapped_column(String(200))
    dispute_ref: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[dict[str, Any]]
    documents: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    assembled_by: Mapped[str | None] = mapped_column(String(200))
    """Who (re)built the draft last: the maker, who may not approve it. None: from before
    makers were recorded; such a pack must be assembled again before it can be approved."""
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    outbox_id: Mapped[str | None] = mapped_column(String(32))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
