"""What resolve keeps: every external key of every entity, the records waiting for a key,
the links it made (with the key that matched, reversibly), and the links it would not
guess.

Also the two commerce facts that only became first-class with resolve: refunds the store
made (never a second charge) and fulfillment holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class EntityAlias(Base):
    """``kind:key`` names the entity ``entity_type``/``entity_ref`` (its canonical ref).

    A non-exclusive kind (an order number, an email) may name two entities; resolve then
    suggests rather than links."""

    __tablename__ = "entity_aliases"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "kind", "key", "entity_type", "entity_ref"),
        Index("ix_entity_aliases_tenant_entity", "tenant_id", "entity_type", "entity_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200))
    """The normalised value (``domain.aliases.normalise``)."""
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_ref: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(200))
    inbox_id: Mapped[str | None] = mapped_column(String(32))  # hot or archived: get_any
    created_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class AliasWait(Base):
    """An inbox event that names an entity by a key no entity has yet: it runs again
    when one does (``alias`` is ``kind:normalised key``)."""

    __tablename__ = "alias_waits"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "inbox_id", "inbox", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "inbox_id", "alias"),
        Index("ix_alias_waits_tenant_alias", "tenant_id", "alias"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    inbox_id: Mapped[str] = mapped_column(String(32), index=True)
    alias: Mapped[str] = mapped_column(String(270))
    created_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class RecordLink(Base):
    """A record tied to an order by resolve or by a person, with the key that matched.

    Never updated but to revoke: an unlink stamps ``revoked_*`` and a relink is a new
    row, so every link the desk ever acted on stays readable."""

    __tablename__ = "record_links"
    __table_args__ = (
        tenant_primary_key(),
        Index("ix_record_links_tenant_order", "tenant_id", "order_ref"),
        Index("ix_record_links_tenant_record", "tenant_id", "record_type", "record_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    record_type: Mapped[str] = mapped_column(String(16))
    record_ref: Mapped[str] = mapped_column(String(260))
    """``source:ref`` of the payment, ticket, shipment, refund or signal."""
    order_ref: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(32))
    """alias, mention, email, suggestion or manual."""
    key_kind: Mapped[str | None] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(200))
    evidence: Mapped[str] = mapped_column(Text)
    inbox_id: Mapped[str | None] = mapped_column(String(32))  # hot or archived: get_any
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    revoked_reason: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class LinkSuggestion(Base):
    """A record that could belong to more than one order: a reviewer chooses."""

    __tablename__ = "link_suggestions"
    __table_args__ = (
        tenant_primary_key(),
        Index("ix_link_suggestions_tenant_status", "tenant_id", "status", "created_at"),
        UniqueConstraint("tenant_id", "record_type", "record_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    record_type: Mapped[str] = mapped_column(String(16))
    record_ref: Mapped[str] = mapped_column(String(260))
    candidates: Mapped[dict[str, Any]]
    """``{"orders": [{"order_ref", "number", "evidence"}, ...]}``"""
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    """open, accepted, rejected, or superseded (a later key settled it)."""
    inbox_id: Mapped[str | None] = mapped_column(String(32))  # hot or archived: get_any
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    chosen_order_ref: Mapped[str | None] = mapped_column(String(200))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class OrderRefund(Base):
    __tablename__ = "order_refunds"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "source", "refund_ref"),
        Index("ix_order_refunds_tenant_order", "tenant_id", "order_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    source: Mapped[str] = mapped_column(String(200))
    refund_ref: Mapped[str] = mapped_column(String(200))
    order_ref: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime]
    inbox_id: Mapped[str | None] = mapped_column(String(32))  # hot or archived: get_any

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class FulfillmentHold(Base):
    """The latest state of one fulfillment order that was held (Shopify fulfillment orders)."""

    __tablename__ = "fulfillment_holds"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "source", "fulfillment_order_ref"),
        Index("ix_fulfillment_holds_tenant_order", "tenant_id", "order_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    source: Mapped[str] = mapped_column(String(200))
    fulfillment_order_ref: Mapped[str] = mapped_column(String(200))
    order_ref: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(40))
    reasons: Mapped[dict[str, Any]]
    """``{"reasons": [...], "note": ...}``"""
    held_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    status_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
