"""Request and response models of the case-work API (api/case_work.py). Not the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from orderops.api.schemas import CaseRead
from orderops.cases.assignment import Strategy
from orderops.decide.transitions import Move
from orderops.domain.notifications import Topic
from orderops.domain.routing import Priority, QueueKind


class WorkCaseRead(CaseRead):
    """A case with where it waits and who holds it; ``version`` is what to send back."""

    queue: str | None
    priority: str
    assignee: str | None
    snoozed_until: datetime | None
    wake_on_event: bool


class Versioned(BaseModel):
    version: int | None = Field(
        default=None,
        ge=1,
        description="The case version you acted on (or send it as If-Match).",
    )


class MoveBody(Versioned):
    move: Move
    reason: str | None = Field(default=None, max_length=2000)
    until: datetime | None = Field(default=None, description="snooze: wake at this time")
    wake_on_event: bool = Field(default=False, description="snooze: wake on the next event")


class ReleaseBody(Versioned):
    force: bool = Field(default=False, description="release someone else's claim (override)")


class AssignBody(Versioned):
    assignee: str | None = Field(default=None, min_length=1, max_length=200)
    strategy: Strategy | None = None

    @model_validator(mode="after")
    def _one_of(self) -> AssignBody:
        if (self.assignee is None) == (self.strategy is None):
            raise ValueError("give exactly one of assignee or strategy")
        return self


class PriorityBody(Versioned):
    priority: Priority


class QueueRead(BaseModel):
    name: str
    kind: str
    escalation_queue: str | None
    open: int
    unassigned: int
    escalated: int
    snoozed: int
    members: int


class QueueList(BaseModel):
    items: list[QueueRead]


class EvidenceRead(BaseModel):
    sha256: str
    size_bytes: int
    media_type: str
    kind: str
    deduplicated: bool


class SnapshotRead(BaseModel):
    sha256: str


class DraftBody(BaseModel):
    channel: str = Field(default="email", min_length=1, max_length=32)
    recipient: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=998)
    body: str = Field(min_length=1, max_length=100_000)
    topic: Topic | None = None
    """What it tells the customer about; by default the one the case's type implies."""


class MessageVersion(BaseModel):
    version: int | None = Field(default=None, ge=1)


class EditBody(MessageVersion):
    subject: str | None = Field(default=None, max_length=998)
    body: str = Field(min_length=1, max_length=100_000)


class HistoryStepRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: str
    actor: str
    at: datetime
    subject: str | None
    body: str


class CommunicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    channel: str
    recipient: str | None
    subject: str | None
    body: str
    status: str
    version: int
    history: list[HistoryStepRead] = []
    delivery_ref: str | None = None
    """The vendor's id for the delivered message (``zendesk:ticket/<id>``)."""
    delivery_error: str | None = None
    topic: str | None = None
    """What it tells the customer about (one voice per customer judges by it)."""
    """Why the vendor refused it, while the message is failed."""


class CommunicationList(BaseModel):
    items: list[CommunicationRead]


class RuleConditionRead(BaseModel):
    """Every condition that is set must hold; none set matches every case."""

    model_config = ConfigDict(extra="forbid")

    exception_types: list[str] | None = None
    min_order_value_minor: int | None = None
    max_order_value_minor: int | None = Field(default=None, description="Exclusive bound.")
    min_fraud_risk: float | None = Field(default=None, description="0-100")
    customer_tiers: list[str] | None = None
    regions: list[str] | None = Field(default=None, description="ISO country codes")
    ticket_classes: list[str] | None = Field(
        default=None,
        description="What the customer's latest classified ticket asks: where_is_my_order, "
        "damaged, wrong_item, cancel_request, address_change, refund_request, other",
    )


class RoutingRuleRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "big orders",
                    "queue": "ops",
                    "priority": "P2",
                    "when": {"min_order_value_minor": 50000},
                }
            ]
        }
    )

    name: str
    queue: str
    priority: str = "P3"
    when: RuleConditionRead = Field(default_factory=RuleConditionRead)


_RULE_SCHEMA = WithJsonSchema({"$ref": "#/components/schemas/RoutingRuleRead"})
"""Submitted rules are parsed by ``domain.routing.rule_from_dict`` (its messages name the
rule at fault); the document shows the shape it accepts, the one rules are read back in."""


class RulesBody(BaseModel):
    rules: list[Annotated[dict[str, Any], _RULE_SCHEMA]] = Field(
        max_length=500,
        description='Ordered rules, first match wins: {"name", "queue", "priority", "when": '
        '{"exception_types", "min_order_value_minor", "max_order_value_minor", '
        '"min_fraud_risk", "customer_tiers", "regions", "ticket_classes"}}',
    )


class RulesRead(BaseModel):
    version: int
    rules: list[RoutingRuleRead]


class QueueConfigBody(BaseModel):
    kind: QueueKind | None = None
    escalation_queue: str | None = Field(default=None, min_length=1, max_length=64)
    sla_minutes: dict[str, int] | None = None
