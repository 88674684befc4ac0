"""Current state of the retailer's world, as projected from canonical events.

Each row keeps the provider time of the newest event applied to it (``*_at`` version
columns) so an older event arriving late never overwrites newer state.

Whatever the event schema (domain/events.py) accepts, these columns hold: money is
64-bit (three billion dong, 25 billion rupiah in sen); a column holding a sender's id or
code is bounded exactly as the schema bounds it, so oversize input is refused at the
door; names, titles and free text are Text. tests/unit/test_event_schema_fits_tables.py
checks every column against its field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        tenant_primary_key(),
        Index("ix_customers_tenant_email", "tenant_id", "email"),
        # The console's search by phone number (issue #14, migration 0037).
        Index("ix_customers_tenant_phone", "tenant_id", "phone"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(String(32), default="standard")
    address: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    locale: Mapped[str | None] = mapped_column(String(35))
    """The customer's language tag as the store knows it (``es-MX``); notices use it
    (migration 0034)."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class CustomerIdentity(Base):
    """A customer's id in one external system (Shopify customer id, Stripe customer, ...)."""

    __tablename__ = "customer_identities"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "customer_id", "customers", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "source", "external_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    customer_id: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(200))
    """The envelope's source, as for ``orders.source``."""
    external_ref: Mapped[str] = mapped_column(String(200))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "customer_id", "customers"),
        UniqueConstraint("tenant_id", "order_ref"),
        Index("ix_orders_tenant_promised_by", "tenant_id", "promised_by"),
        Index("ix_orders_tenant_next_check_at", "tenant_id", "next_check_at"),
        # A customer's orders: impact's lifetime value and prior exceptions (issue #19).
        Index("ix_orders_tenant_customer", "tenant_id", "customer_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    order_ref: Mapped[str] = mapped_column(String(200))
    number: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    financial_status: Mapped[str] = mapped_column(String(32))
    fulfillment_status: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    placed_at: Mapped[datetime]
    promised_by: Mapped[datetime | None]
    promise_source: Mapped[str | None] = mapped_column(String(64))
    """Where ``promised_by`` came from: "store" (sent with the order) or
    "policy:<window>" (computed from the tenant's fulfillment policy)."""
    service_level: Mapped[str | None] = mapped_column(Text)
    """A shipping method's code or, failing that, its title (free text, any length)."""
    location: Mapped[str | None] = mapped_column(String(64))
    ship_to: Mapped[dict[str, Any] | None]
    delivered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    source_updated_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    next_check_at: Mapped[datetime | None]
    """When a time-based detector may next change its answer; the sweep's work list."""
    # Where the order sits for scopes below the tenant (domain/scopes.py; resolve derives
    # them when it projects the order, and its cases carry copies).
    brand: Mapped[str | None] = mapped_column(String(64))
    store: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))

    lines: Mapped[list[OrderLineRow]] = relationship(
        cascade="all, delete-orphan", order_by="OrderLineRow.position"
    )

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class OrderLineRow(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "order_id", "orders", ondelete="CASCADE"),
        Index("ix_order_lines_tenant_sku", "tenant_id", "sku"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    order_id: Mapped[str] = mapped_column(String(32), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[int]
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    location: Mapped[str | None] = mapped_column(String(64))
    short_since: Mapped[datetime | None]
    """Start of the latest stretch in which the location's stock could not cover the line."""
    short_cleared_at: Mapped[datetime | None]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "provider", "payment_ref"),
        Index("ix_payments_tenant_order_ref", "tenant_id", "order_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    provider: Mapped[str] = mapped_column(String(40))
    payment_ref: Mapped[str] = mapped_column(String(200))
    order_ref: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    amount_refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    status_at: Mapped[datetime]
    created_at: Mapped[datetime]
    authorized_at: Mapped[datetime | None]
    captured_at: Mapped[datetime | None]
    refunded_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    """First decline the provider reported: an outcome, even after a later void."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "carrier", "tracking_number"),
        Index("ix_shipments_tenant_order_ref", "tenant_id", "order_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    shipment_ref: Mapped[str | None] = mapped_column(String(200))
    order_ref: Mapped[str | None] = mapped_column(String(200))
    carrier: Mapped[str] = mapped_column(String(40))
    service: Mapped[str | None] = mapped_column(Text)
    tracking_number: Mapped[str] = mapped_column(String(200))
    origin_location: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    status_at: Mapped[datetime]
    last_location: Mapped[str | None] = mapped_column(Text)
    estimated_delivery: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    first_scan_at: Mapped[datetime | None]
    last_message: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class TrackingEvent(Base):
    __tablename__ = "tracking_events"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "shipment_id", "shipments", ondelete="CASCADE"),
        Index("ix_tracking_events_shipment", "tenant_id", "shipment_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    shipment_id: Mapped[str] = mapped_column(String(32))
    inbox_id: Mapped[str] = mapped_column(String(32))  # hot or archived: get_any
    status: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    location: Mapped[str | None] = mapped_column(Text)
    message: Mapped[str | None] = mapped_column(Text)

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class InventoryPosition(Base):
    """Stock of one SKU at one location."""

    __tablename__ = "inventory_positions"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "sku", "location"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    sku: Mapped[str] = mapped_column(String(200))
    location: Mapped[str] = mapped_column(String(200))
    available: Mapped[int]
    on_hand: Mapped[int | None]
    as_of: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class SupportTicket(Base):
    __tablename__ = "support_tickets"
    __table_args__ = (
        tenant_primary_key(),
        UniqueConstraint("tenant_id", "source", "ticket_ref"),
        Index("ix_support_tickets_tenant_order_ref", "tenant_id", "order_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    source: Mapped[str] = mapped_column(String(40))
    ticket_ref: Mapped[str] = mapped_column(String(200))
    order_ref: Mapped[str | None] = mapped_column(String(200))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime]
    source_updated_at: Mapped[datetime]
    ticket_class: Mapped[str | None] = mapped_column(String(32))
    """The ticket classifier's class (domain/ticket_classes.py); None before migration 0041."""
    ticket_class_confidence: Mapped[float | None]
    ticket_class_model: Mapped[str | None] = mapped_column(String(80))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class FraudSignal(Base):
    __tablename__ = "fraud_signals"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "inbox_id", "inbox"),
        Index("ix_fraud_signals_tenant_order_ref", "tenant_id", "order_ref"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    inbox_id: Mapped[str] = mapped_column(String(32), index=True)
    order_ref: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60))
    score: Mapped[float | None]
    detail: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
