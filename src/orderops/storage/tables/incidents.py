"""Incidents (many open cases with one root cause, grouped so reviewers act once) and the
recurrence keys of cases (what a case shares with others: customer, SKU, lane, ...).

``uq_incidents_open_key`` is the database's guarantee of one open incident per tenant
and root-cause key; two workers grouping the same storm at once meet on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key

OPEN_INCIDENT_PREDICATE = text("closed_at IS NULL")


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        tenant_primary_key(),
        Index(
            "uq_incidents_open_key",
            "tenant_id",
            "key",
            unique=True,
            sqlite_where=OPEN_INCIDENT_PREDICATE,
            postgresql_where=OPEN_INCIDENT_PREDICATE,
        ),
        Index("ix_incidents_tenant_opened", "tenant_id", "opened_at"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    key: Mapped[str] = mapped_column(Text)
    """What the grouped cases share, e.g. ``shipment_late|lane:ups:WH-1:DE``. Text: a lane
    ends in the ship-to region, which is address text of any length."""
    type: Mapped[str] = mapped_column(String(64))
    """The grouped cases' exception type."""
    dimension: Mapped[str] = mapped_column(String(16))
    """lane, warehouse or payment: which shared thing makes it one root cause."""
    summary: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    case_count: Mapped[int] = mapped_column(Integer, default=0)
    """Every case ever attached, open or closed."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class RecurrenceKey(Base):
    """One thing a case is about (its customer, a SKU, its carrier lane, its warehouse,
    its payment failure), so "how often lately?" is one indexed count per dimension."""

    __tablename__ = "recurrence_keys"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases", ondelete="CASCADE"),
        Index("ix_recurrence_keys_lookup", "tenant_id", "dimension", "value", "opened_at"),
        Index("ix_recurrence_keys_tenant_case", "tenant_id", "case_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str] = mapped_column(String(32))
    dimension: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(300))
    exception_type: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
