"""Canonical events: what every source is mapped to before OrderOps acts on it.

Adapters (Shopify, Stripe, carriers, desks, CSV, the simulator) produce these and
nothing downstream knows which system spoke. Money is in minor units (cents) with
an ISO currency, so no float ever touches an amount.

These models are the door: whatever they accept must be storable, because an event
accepted here is acknowledged to its sender before it is processed. So each id or code
is bounded exactly as its column is (tests/unit/test_event_schema_fits_tables.py holds
the two side by side), and names, titles and free text are left unbounded here because
their columns are Text. An oversize id is refused with its field named, and dead-lettered.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from orderops.domain.clock import ensure_utc
from orderops.domain.statuses import PaymentStatus, TicketStatus, TrackingStatus

UtcDatetime = Annotated[datetime, AfterValidator(ensure_utc)]
Ref = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(max_length=64)]
"""A short identifier a sender chooses: an order number, a location or warehouse code."""
Currency = Annotated[str, Field(min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")]
MinorUnits = Annotated[int, Field(ge=0, le=10**15)]
"""Up to 10^15 minor units: past any single order in any currency (25 billion rupiah is
2.5 x 10^12 sen), and far inside the 64-bit money columns."""


class EventType(StrEnum):
    ORDER_PLACED = "order.placed"
    ORDER_UPDATED = "order.updated"
    ORDER_CANCELLED = "order.cancelled"
    PAYMENT_UPDATED = "payment.updated"
    SHIPMENT_CREATED = "shipment.created"
    SHIPMENT_TRACKING = "shipment.tracking"
    INVENTORY_LEVEL = "inventory.level"
    CUSTOMER_UPSERTED = "customer.upserted"
    TICKET_UPDATED = "ticket.updated"
    FRAUD_SIGNAL = "fraud.signal"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class Address(_Data):
    name: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = Field(default=None, max_length=2)


class CustomerData(_Data):
    customer_ref: Ref
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    name: str | None = None
    tier: str = Field(default="standard", max_length=32)
    address: Address | None = None


class OrderLine(_Data):
    sku: Ref
    title: str | None = None
    quantity: int = Field(ge=1, le=100_000)
    unit_price_minor: MinorUnits
    location: Code | None = None


class OrderData(_Data):
    order_ref: Ref
    number: Code | None = None
    customer: CustomerData | None = None
    currency: Currency
    total_minor: MinorUnits
    placed_at: UtcDatetime
    promised_by: UtcDatetime | None = None
    service_level: str | None = None
    location: Code | None = None
    ship_to: Address | None = None
    lines: list[OrderLine] = Field(default_factory=list, max_length=1000)


class OrderCancelledData(_Data):
    order_ref: Ref
    reason: str | None = None


class PaymentData(_Data):
    payment_ref: Ref
    order_ref: Ref | None = None
    provider: str = Field(min_length=1, max_length=40)
    status: PaymentStatus
    amount_minor: MinorUnits
    currency: Currency
    amount_refunded_minor: MinorUnits = 0
    failure_code: str | None = Field(default=None, max_length=100)
    failure_message: str | None = None


class ShipmentData(_Data):
    shipment_ref: Ref
    order_ref: Ref
    carrier: str = Field(min_length=1, max_length=40)
    service: str | None = None
    tracking_number: Ref
    origin_location: Code | None = None
    estimated_delivery: UtcDatetime | None = None


class TrackingData(_Data):
    tracking_number: Ref
    carrier: str = Field(min_length=1, max_length=40)
    status: TrackingStatus
    occurred_at: UtcDatetime
    location: str | None = None
    message: str | None = Field(default=None, max_length=2000)
    estimated_delivery: UtcDatetime | None = None


class InventoryLevelData(_Data):
    sku: Ref
    location: Ref
    available: int = Field(ge=-(10**9), le=10**9)
    on_hand: int | None = Field(default=None, ge=-(10**9), le=10**9)


class TicketData(_Data):
    ticket_ref: Ref
    source: str = Field(min_length=1, max_length=40)
    order_ref: Ref | None = None
    customer_email: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=1000)
    body: str | None = Field(default=None, max_length=100_000)
    status: TicketStatus = TicketStatus.NEW


class FraudSignalData(_Data):
    order_ref: Ref
    kind: str = Field(min_length=1, max_length=60)
    score: float | None = Field(default=None, ge=0, le=100)
    detail: str | None = None


DATA_MODELS: dict[EventType, type[_Data]] = {
    EventType.ORDER_PLACED: OrderData,
    EventType.ORDER_UPDATED: OrderData,
    EventType.ORDER_CANCELLED: OrderCancelledData,
    EventType.PAYMENT_UPDATED: PaymentData,
    EventType.SHIPMENT_CREATED: ShipmentData,
    EventType.SHIPMENT_TRACKING: TrackingData,
    EventType.INVENTORY_LEVEL: InventoryLevelData,
    EventType.CUSTOMER_UPSERTED: CustomerData,
    EventType.TICKET_UPDATED: TicketData,
    EventType.FRAUD_SIGNAL: FraudSignalData,
}
