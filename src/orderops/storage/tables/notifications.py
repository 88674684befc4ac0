"""Proactive customer notices (``domain/notifications.py``): each tenant's rule, and one row
per case and topic saying what the desk did about telling the customer.

The notice row is unique per (tenant, case, topic), so two workers sweeping at once
cannot notify for one case twice; it is looked up by (tenant, customer, topic, time) to
keep one voice per customer across orders and cases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class NotificationPolicy(Base):
    """A tenant's notice rule; no row means nothing proactive."""

    __tablename__ = "notification_policies"
    __table_args__ = (tenant_primary_key(), UniqueConstraint("tenant_id"))

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    rules: Mapped[dict[str, Any]]
    """``NoticePolicy`` as JSON: topics, auto_approve, quiet_hours, repeat_hours."""
    version: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class CustomerNotice(Base):
    __tablename__ = "customer_notices"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "case_id", "topic"),
        Index("ix_customer_notices_tenant_customer", "tenant_id", "customer_key", "topic", "at"),
        Index("ix_customer_notices_tenant_outcome", "tenant_id", "outcome", "not_before"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str] = mapped_column(String(32))
    order_ref: Mapped[str] = mapped_column(String(200))
    customer_key: Mapped[str] = mapped_column(String(200))
    """``customer:<id>``, or ``order:<ref>`` for an order without a customer record."""
    topic: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    communication_id: Mapped[str | None] = mapped_column(String(32))
    """The drafted message (plain column: a blocked or suppressed notice has none)."""
    at: Mapped[datetime]
    not_before: Mapped[datetime | None]
    """While ``quiet``: when the quiet period ends and the rule may send it."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
