"""Outbound webhook subscriptions and their delivery log (issue #15 item 4).

A subscription is one endpoint of the retailer's, per tenant row (so per environment),
with the event types it wants and its signing secret sealed at rest (``SecretBox``, as
vendor credentials are). A rotation keeps the replaced secret with the end of its
overlap, during which deliveries carry both signatures.

The events themselves travel as ``outbox`` rows (system ``webhook``): queued in the
transaction of the change that causes them, leased, retried and given up on by the same
machinery as writebacks. ``webhook_send_attempts`` is the receiver-facing log of each
attempt: when, the HTTP status, how long it took, the error and the start of the answer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, JsonType, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        tenant_primary_key(),
        # What an event looks up when it is queued: the tenant's enabled subscriptions.
        Index("ix_webhook_subscriptions_tenant_enabled", "tenant_id", "enabled"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(200))
    event_types: Mapped[list[str]] = mapped_column(JsonType)
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    previous_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None]
    """End of the rotation overlap: until then deliveries are signed with both secrets."""
    secret_version: Mapped[int] = mapped_column(Integer, default=1)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    """The first failed attempt since the last delivered one; None while healthy."""
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class WebhookAttemptLog(Base):
    __tablename__ = "webhook_send_attempts"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "subscription_id", "webhook_subscriptions", ondelete="CASCADE"),
        tenant_fk(__tablename__, "message_id", "outbox", ondelete="CASCADE"),
        Index(
            "ix_webhook_send_attempts_subscription",
            "tenant_id",
            "subscription_id",
            "attempted_at",
        ),
        Index("ix_webhook_send_attempts_message", "tenant_id", "message_id"),
    )

    id: Mapped[str] = row_id()
    """The attempt's ``writeback_attempts`` id (the lease's own record of it)."""
    tenant_id: Mapped[str] = tenant_column()
    subscription_id: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(40))
    number: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
    """The receiver's answer, truncated (``outbound/delivery.BODY_CHARS``)."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
