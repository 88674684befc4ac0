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

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

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
    CATALOG_ITEM = "catalog.item"
    ORDER_REFUND = "order.refund"
    FULFILLMENT_HOLD = "fulfillment.hold"
    ALIAS_OBSERVED = "alias.observed"


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)


class ExternalKey(_Data):
    """A name a provider gives an entity: which kind of key, and its value as sent.

    The kinds are listed in ``domain.aliases.KEY_KINDS``; values are normalised there
    too, so an adapter passes on exactly what the provider wrote ("#1001", " 1Z99 ").
    """

    kind: Code
    value: Ref


Keys = Annotated[list[ExternalKey], Field(default_factory=list, max_length=50)]
"""Other names of a record's order (or of the record itself): resolve tries them in order."""


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
    aliases: Keys
    locale: str | None = Field(default=None, max_length=35)
    """The customer's language tag (``es-MX``), when the store knows it."""


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
    aliases: Keys
    """Every other name of this order: its name and number, checkout and cart tokens."""
    store: Code | None = None
    """The shop it was placed in (a Shopify shop domain); none: the envelope's source."""
    channel: Code | None = None
    """The sales channel (Shopify's ``source_name``: web, pos, an app's id)."""
    tags: list[str] = Field(default_factory=list, max_length=250)
    """The store's tags on the order; a tenant's brand rules may name a brand by tag."""


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
    order_keys: Keys
    """Names of the order when ``order_ref`` is not known (Stripe metadata, tokens)."""
    aliases: Keys
    """Other names of this payment (its charges), for records that name only those."""


class ShipmentData(_Data):
    shipment_ref: Ref
    order_ref: Ref | None = None
    carrier: str = Field(min_length=1, max_length=40)
    service: str | None = None
    tracking_number: Ref
    origin_location: Code | None = None
    estimated_delivery: UtcDatetime | None = None
    order_keys: Keys
    aliases: Keys
    """The carrier's own shipment or tracker ids."""


class TrackingData(_Data):
    tracking_number: Ref
    carrier: str = Field(min_length=1, max_length=40)
    status: TrackingStatus
    occurred_at: UtcDatetime
    location: str | None = None
    message: str | None = Field(default=None, max_length=2000)
    estimated_delivery: UtcDatetime | None = None


class InventoryLevelData(_Data):
    sku: Ref | None = None
    item_key: ExternalKey | None = None
    """The provider's item id when it does not send the SKU (Shopify inventory items)."""
    location: Ref
    available: int = Field(ge=-(10**9), le=10**9)
    on_hand: int | None = Field(default=None, ge=-(10**9), le=10**9)

    @model_validator(mode="after")
    def _names_an_item(self) -> InventoryLevelData:
        if self.sku is None and self.item_key is None:
            raise ValueError("a stock level needs a sku or an item_key")
        return self


class TicketData(_Data):
    ticket_ref: Ref
    source: str = Field(min_length=1, max_length=40)
    order_ref: Ref | None = None
    customer_email: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=1000)
    body: str | None = Field(default=None, max_length=100_000)
    status: TicketStatus = TicketStatus.NEW
    order_keys: Keys
    """Order keys the ticket names: fields, external id, numbers written in the text."""


class FraudSignalData(_Data):
    order_ref: Ref | None = None
    kind: str = Field(min_length=1, max_length=60)
    score: float | None = Field(default=None, ge=0, le=100)
    detail: str | None = None
    signal_ref: Ref | None = None
    """The provider's id of the dispute, warning or review, when it has one."""
    order_keys: Keys
    """What the provider names instead of the order: a PaymentIntent, a charge."""

    @model_validator(mode="after")
    def _names_an_order(self) -> FraudSignalData:
        if self.order_ref is None and not self.order_keys:
            raise ValueError("a fraud signal needs an order_ref or order_keys")
        return self


class CatalogItemData(_Data):
    """A sellable item and the provider ids that name it (variant, inventory item)."""

    sku: Ref
    title: str | None = None
    aliases: Keys


class RefundData(_Data):
    """Money the store returned on an order: a refund, never a second charge."""

    refund_ref: Ref
    order_ref: Ref | None = None
    order_keys: Keys
    amount_minor: MinorUnits
    currency: Currency
    reason: str | None = None


class FulfillmentHoldData(_Data):
    """A fulfillment order placed on hold, released, or otherwise changed."""

    fulfillment_order_ref: Ref
    order_ref: Ref | None = None
    order_keys: Keys
    status: str = Field(min_length=1, max_length=40)
    reasons: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=20
    )
    note: str | None = None


class AliasData(_Data):
    """A provider telling us two of its names are one entity (a charge of a PaymentIntent)."""

    entity: ExternalKey
    """A key of an entity the desk already knows or will know."""
    aliases: Keys


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
    EventType.CATALOG_ITEM: CatalogItemData,
    EventType.ORDER_REFUND: RefundData,
    EventType.FULFILLMENT_HOLD: FulfillmentHoldData,
    EventType.ALIAS_OBSERVED: AliasData,
}
