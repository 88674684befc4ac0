"""Identity resolution: which customer rows are one person, and which records belong to
which order.

Links are append-only. Every resolution, merge or split is an ``IdentityRevision``;
each customer whose golden id changes gets a new ``CustomerLink`` row at that revision,
and the link in force is the customer's row with the highest revision. A split can
therefore restore exactly what a merge replaced, and history is never overwritten.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class IdentityRevision(Base):
    """One change to a tenant's links: an automatic resolution, a merge or a split."""

    __tablename__ = "identity_revisions"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "revision"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    undoes: Mapped[int | None] = mapped_column(Integer)
    """For a split: the revision of the merge it undoes."""
    at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class CustomerLink(Base):
    """From ``revision`` on, ``customer_id`` belongs to the person ``golden_id``."""

    __tablename__ = "customer_links"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "customer_id", "customers", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "customer_id", "revision"),
        Index("ix_customer_links_tenant_golden", "tenant_id", "golden_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    customer_id: Mapped[str] = mapped_column(String(32))
    golden_id: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class OrderLink(Base):
    """Links written by the offline ``identity link-orders`` before migration 0016.

    Superseded by ``record_links``, which resolve writes on the event path; kept so the
    rows already written stay readable. Nothing writes here any more."""

    __tablename__ = "order_links"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "order_id", "orders", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "record_type", "record_id"),
        Index("ix_order_links_tenant_order", "tenant_id", "order_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(32))
    evidence: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
