"""Every table, imported here so ``Base.metadata`` is complete for Alembic and tests."""

from orderops.storage.tables.audit import AuditHead, AuditRecord
from orderops.storage.tables.cases import Action, Approval, Case, CaseTimelineEntry
from orderops.storage.tables.commerce import (
    Customer,
    CustomerIdentity,
    FraudSignal,
    InventoryPosition,
    Order,
    OrderLineRow,
    Payment,
    Shipment,
    SupportTicket,
    TrackingEvent,
)
from orderops.storage.tables.intake import DeadLetter, InboxEvent
from orderops.storage.tables.outbox import OutboxMessage
from orderops.storage.tables.tenancy import ApiKey, Tenant

__all__ = [
    "Action",
    "ApiKey",
    "Approval",
    "AuditHead",
    "AuditRecord",
    "Case",
    "CaseTimelineEntry",
    "Customer",
    "CustomerIdentity",
    "DeadLetter",
    "FraudSignal",
    "InboxEvent",
    "InventoryPosition",
    "Order",
    "OrderLineRow",
    "OutboxMessage",
    "Payment",
    "Shipment",
    "SupportTicket",
    "Tenant",
    "TrackingEvent",
]
