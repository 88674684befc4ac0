"""The work around a case: queues and their members, routing rules, timers, communications
and evidence.

Timers are rows, not threads: a restarted worker finds every pending timer where it was
left, and ``uq_case_timers_pending`` keeps one pending timer per case and kind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key

PENDING_TIMER_PREDICATE = text("fired_at IS NULL")


class Queue(Base):
    __tablename__ = "queues"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "name"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    escalation_queue: Mapped[str | None] = mapped_column(String(64))
    """Where a case goes when it breaches its SLA here or a person escalates it."""
    sla_minutes: Mapped[dict[str, Any]]
    """Per-priority overrides of the default response time, e.g. {"P1": 30}."""
    rr_last_member: Mapped[str | None] = mapped_column(String(200))
    """The member round robin gave the last case to."""
    created_at: Mapped[datetime]
    scope: Mapped[dict[str, Any] | None]
    """The queue shows only cases in this scope (``domain/scopes.py``); None: all its cases."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class QueueMember(Base):
    __tablename__ = "queue_members"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "queue_id", "queues", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "queue_id", "member"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    queue_id: Mapped[str] = mapped_column(String(32))
    member: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class RoutingRuleRecord(Base):
    """One rule of one published version of a tenant's routing rules; never updated."""

    __tablename__ = "routing_rules"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "version", "position"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    version: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    rule: Mapped[dict[str, Any]]
    published_by: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class CaseTimer(Base):
    __tablename__ = "case_timers"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases", ondelete="CASCADE"),
        Index(
            "uq_case_timers_pending",
            "tenant_id",
            "case_id",
            "kind",
            unique=True,
            sqlite_where=PENDING_TIMER_PREDICATE,
            postgresql_where=PENDING_TIMER_PREDICATE,
        ),
        Index("ix_case_timers_tenant_due", "tenant_id", "fired_at", "due_at"),
        Index("ix_case_timers_tenant_case", "tenant_id", "case_id", "kind"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    """Set when the timer fired or was cancelled; ``outcome`` says which."""
    outcome: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class Communication(Base):
    """A message to the customer about a case, from draft to sent."""

    __tablename__ = "communications"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases", ondelete="CASCADE"),
        Index("ix_communications_tenant_case", "tenant_id", "case_id"),
        Index("ix_communications_tenant_outbox", "tenant_id", "outbox_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)
    outbox_id: Mapped[str | None] = mapped_column(String(32))
    """The outbox row carrying the message (migration 0032); NULL until it is sent."""
    delivery_ref: Mapped[str | None] = mapped_column(String(200))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(16))
    """What it tells the customer about (``domain/notifications.Topic``, migration 0036),
    for one voice per customer; NULL on rows from before."""

    __mapper_args__ = {"primary_key": [id], "version_id_col": version}  # noqa: RUF012


class CommunicationEvent(Base):
    """One step of a communication's history, with the text as it stood at that step."""

    __tablename__ = "communication_events"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "communication_id", "communications", ondelete="CASCADE"),
        Index("ix_communication_events_tenant_comm", "tenant_id", "communication_id", "at"),
    )

    id: Mapped[str] = row_id(sortable=True)
    tenant_id: Mapped[str] = tenant_column()
    communication_id: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class EvidenceBlob(Base):
    """What a tenant stored in the evidence store: one row per distinct content."""

    __tablename__ = "evidence_blobs"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "sha256"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
