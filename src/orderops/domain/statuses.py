"""The vocabularies every source is normalised into."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"
    CLOSED = "closed"


class FinancialStatus(StrEnum):
    """The order's money, derived from its payments (never from a missing row)."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    FAILED = "failed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"


OWES_DELIVERY = (
    FinancialStatus.AUTHORIZED,
    FinancialStatus.PAID,
    FinancialStatus.PARTIALLY_REFUNDED,
)
"""Money taken or held for goods still to be delivered: only then can a shipment be late.
Here, not in detect/, because the lateness sweep's query (storage) asks it too."""


class PaymentStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"
    VOIDED = "voided"


class FulfillmentStatus(StrEnum):
    UNFULFILLED = "unfulfilled"
    SHIPPED = "shipped"
    DELIVERED = "delivered"


class TrackingStatus(StrEnum):
    """One carrier vocabulary for EasyPost, Shippo, AfterShip and the simulator."""

    LABEL_CREATED = "label_created"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    FAILED_ATTEMPT = "failed_attempt"
    RETURN_TO_SENDER = "return_to_sender"
    EXCEPTION = "exception"
    LOST = "lost"


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"
