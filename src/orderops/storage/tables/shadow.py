"""Shadow mode: a tenant's candidate policy running beside the live one, and what it
would have done (issue #17 item 2, migration 0045).

``shadow_candidates`` holds every candidate a tenant registered, numbered per tenant and
never edited but for its status; at most one is running (``active`` or
``promotion_proposed``), which a partial unique index on the tenant enforces.
``shadow_decisions`` holds one row per (order, exception type) the candidate would have
opened, cleared in place when the candidate would have cleared it: never a case, action,
outbox row or message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key

RUNNING_PREDICATE = text("status IN ('active', 'promotion_proposed')")
OPEN_DECISION_PREDICATE = text("status = 'open'")


class ShadowCandidate(Base):
    __tablename__ = "shadow_candidates"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "version"),
        Index(
            "uq_shadow_candidates_one_running",
            "tenant_id",
            unique=True,
            sqlite_where=RUNNING_PREDICATE,
            postgresql_where=RUNNING_PREDICATE,
        ),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    """The candidate file as registered (workflow/candidate_policy.py parses it)."""
    digest: Mapped[str] = mapped_column(String(64))
    started_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime]
    stopped_by: Mapped[str | None] = mapped_column(String(200))
    stopped_at: Mapped[datetime | None]
    proposed_by: Mapped[str | None] = mapped_column(String(200))
    proposed_at: Mapped[datetime | None]
    promoted_by: Mapped[str | None] = mapped_column(String(200))
    promoted_at: Mapped[datetime | None]
    promoted_versions: Mapped[dict[str, Any] | None]
    """The policy versions promotion stored, per section."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class ShadowDecision(Base):
    __tablename__ = "shadow_decisions"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "candidate_id", "shadow_candidates"),
        Index(
            "uq_shadow_decisions_open_per_order_type",
            "tenant_id",
            "candidate_id",
            "order_id",
            "exception_type",
            unique=True,
            sqlite_where=OPEN_DECISION_PREDICATE,
            postgresql_where=OPEN_DECISION_PREDICATE,
        ),
        Index(
            "ix_shadow_decisions_tenant_candidate_opened", "tenant_id", "candidate_id", "opened_at"
        ),
    )

    id: Mapped[str] = row_id(sortable=True)
    tenant_id: Mapped[str] = tenant_column()
    candidate_id: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(32))
    order_ref: Mapped[str] = mapped_column(String(200))
    exception_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    """``open`` (the candidate would have a case open) or ``cleared``."""
    summary: Mapped[str] = mapped_column(Text)
    evidence_key: Mapped[str] = mapped_column(String(300))
    inbox_id: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
    live_case_id: Mapped[str | None] = mapped_column(String(32))
    """The live case of the same order and type open when the candidate would have opened
    (None: live had none then)."""
    currency: Mapped[str | None] = mapped_column(String(3))
    outcome: Mapped[dict[str, Any]]
    """What the candidate would do and what the live policy does on the same facts:
    ``{"candidate": {...}, "live": {...}}``, each with priority, queue, rule, action,
    amount_minor, approvals (workflow/shadow_judge.py ``Outcome``)."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
