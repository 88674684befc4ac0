"""Every table, imported here so ``Base.metadata`` is complete for Alembic and tests."""

from orderops.storage.tables.access import ApprovalPolicyVersion, CasePolicyPin, User
from orderops.storage.tables.agent_limits import AgentKeyLimit, AgentProposal
from orderops.storage.tables.archive import InboxArchive, WebhookDeliveryArchive
from orderops.storage.tables.audit import AuditHead, AuditRecord
from orderops.storage.tables.backtests import BacktestRun
from orderops.storage.tables.cases import Action, Approval, Case, CaseTimelineEntry
from orderops.storage.tables.choices import CustomerChoiceOffer
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
from orderops.storage.tables.console import ConsoleSession, SignInThrottle
from orderops.storage.tables.holds import DeskHold
from orderops.storage.tables.idempotency import IdempotencyKey
from orderops.storage.tables.identity import CustomerLink, IdentityRevision, OrderLink
from orderops.storage.tables.imports import ImportRun, TenantPolicy
from orderops.storage.tables.incidents import Incident, RecurrenceKey
from orderops.storage.tables.intake import DeadLetter, InboxEvent
from orderops.storage.tables.model_registry import ModelVersionRow
from orderops.storage.tables.notifications import CustomerNotice, NotificationPolicy
from orderops.storage.tables.outbound_webhooks import WebhookAttemptLog, WebhookSubscription
from orderops.storage.tables.outbox import OutboxMessage
from orderops.storage.tables.queues import (
    CaseTimer,
    Communication,
    CommunicationEvent,
    EvidenceBlob,
    Queue,
    QueueMember,
    RoutingRuleRecord,
)
from orderops.storage.tables.rate_limits import RateLimitWindow, TenantRateLimit
from orderops.storage.tables.recommend import (
    CustomerMessageKey,
    DisputeEvidencePack,
    LlmUsage,
    Recommendation,
    RecommendationDraft,
    TenantPlaybook,
)
from orderops.storage.tables.reconciliation import ReconciliationFinding, ReconciliationRun
from orderops.storage.tables.resolve import (
    AliasWait,
    EntityAlias,
    FulfillmentHold,
    LinkSuggestion,
    OrderRefund,
    RecordLink,
)
from orderops.storage.tables.retention import CustomerErasure, RetentionWindowRow
from orderops.storage.tables.saved_views import SavedView
from orderops.storage.tables.scopes import BrandRule
from orderops.storage.tables.shadow import ShadowCandidate, ShadowDecision
from orderops.storage.tables.sources import SourceConnection, WebhookDelivery
from orderops.storage.tables.sso import SsoConfig, SsoLogin, UserIdentity
from orderops.storage.tables.tenancy import ApiKey, Tenant
from orderops.storage.tables.usage import UsageCounter, UsageQuota
from orderops.storage.tables.vendor_connections import VendorConnection
from orderops.storage.tables.writeback import WritebackAttempt, WritebackSaga, WritebackSagaStep

__all__ = [
    "Action",
    "AgentKeyLimit",
    "AgentProposal",
    "AliasWait",
    "ApiKey",
    "Approval",
    "ApprovalPolicyVersion",
    "AuditHead",
    "AuditRecord",
    "BacktestRun",
    "BrandRule",
    "Case",
    "CasePolicyPin",
    "CaseTimelineEntry",
    "CaseTimer",
    "Communication",
    "CommunicationEvent",
    "ConsoleSession",
    "Customer",
    "CustomerChoiceOffer",
    "CustomerErasure",
    "CustomerIdentity",
    "CustomerLink",
    "CustomerMessageKey",
    "CustomerNotice",
    "DeadLetter",
    "DeskHold",
    "DisputeEvidencePack",
    "EntityAlias",
    "EvidenceBlob",
    "FraudSignal",
    "FulfillmentHold",
    "IdempotencyKey",
    "IdentityRevision",
    "ImportRun",
    "InboxArchive",
    "InboxEvent",
    "Incident",
    "InventoryPosition",
    "LinkSuggestion",
    "LlmUsage",
    "ModelVersionRow",
    "NotificationPolicy",
    "Order",
    "OrderLineRow",
    "OrderLink",
    "OrderRefund",
    "OutboxMessage",
    "Payment",
    "Queue",
    "QueueMember",
    "RateLimitWindow",
    "Recommendation",
    "RecommendationDraft",
    "ReconciliationFinding",
    "ReconciliationRun",
    "RecordLink",
    "RecurrenceKey",
    "RetentionWindowRow",
    "RoutingRuleRecord",
    "SavedView",
    "ShadowCandidate",
    "ShadowDecision",
    "Shipment",
    "SignInThrottle",
    "SourceConnection",
    "SsoConfig",
    "SsoLogin",
    "SupportTicket",
    "Tenant",
    "TenantPlaybook",
    "TenantPolicy",
    "TenantRateLimit",
    "TrackingEvent",
    "UsageCounter",
    "UsageQuota",
    "User",
    "UserIdentity",
    "VendorConnection",
    "WebhookAttemptLog",
    "WebhookDelivery",
    "WebhookDeliveryArchive",
    "WebhookSubscription",
    "WritebackAttempt",
    "WritebackSaga",
    "WritebackSagaStep",
]
