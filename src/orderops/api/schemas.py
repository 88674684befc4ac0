"""Request and response models of the API. They are not the tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from orderops.api.hold_schemas import HoldRead


class IntakeItem(BaseModel):
    index: int
    outcome: str
    event_id: str | None = None
    inbox_id: str | None = None
    reason: str | None = None
    dead_letter_id: str | None = None


class CaseChangeRead(BaseModel):
    change: str
    case_id: str
    exception_type: str
    order_ref: str
    summary: str


class IntakeResponse(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[IntakeItem]


class CaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    order_ref: str
    exception_type: str
    status: str
    summary: str
    detected_at: datetime
    opened_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    close_reason: str | None
    occurrences: int
    reopen_count: int
    version: int
    priority: str
    impact_score: int | None = None
    queue: str | None = None
    assignee: str | None = None
    jeopardy: str | None = None
    incident_id: str | None = None
    grouped_cases: int | None = None
    """In a collapsed list: how many cases of its incident this row stands for."""


class TimelineEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: str
    summary: str
    actor: str
    data: dict[str, Any]


class TicketClassRead(BaseModel):
    """What the customer's latest classified ticket about the case's order asks for."""

    model_config = ConfigDict(from_attributes=True)

    ticket_ref: str
    ticket_class: str = Field(
        description="where_is_my_order, damaged, wrong_item, cancel_request, address_change, "
        "refund_request or other (also what an unsure verdict becomes)"
    )
    confidence: float | None
    model: str | None
    opened_at: datetime


class CaseDetail(CaseRead):
    ticket_class: TicketClassRead | None = None
    """The order's latest classified ticket (the ticket classifier's verdict)."""
    facts: dict[str, Any]
    impact: dict[str, Any] | None = None
    """The impact score's explanation: one contribution per factor, summing to the score."""
    timeline: list[TimelineEntryRead]
    holds: list[HoldRead] = Field(
        default_factory=list, description="The desk's holds on the case, active and released."
    )


class CaseList(BaseModel):
    """A page of the case list. Follow ``next_cursor`` (also the ``Link: rel="next"``
    header) for the next page: it resumes after this page's last row, so cases opened
    meanwhile never shift a row onto two pages or off all of them."""

    items: list[CaseRead]
    limit: int
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )
    total: int | None = Field(
        default=None, description="Every matching case (row, collapsed); only with count=true."
    )
    offset: int
    next_offset: int | None = Field(
        default=None, description="For offset paging: the next page's offset (null with cursor)."
    )
