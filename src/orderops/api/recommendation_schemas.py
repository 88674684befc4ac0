"""Answer models of the recommendation routes (``api/recommendations.py``).

The service builds these answers as plain dicts (the console reads the same shapes); the
models here name that shape in the OpenAPI document and check it on the way out. Fields
read from a stored recommendation's body keep ``extra="allow"``, so a body written by an
older version with more keys still answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PlaybookPinRead(BaseModel):
    version: int = Field(description="The playbook version that applies to the case.")
    pinned: bool
    current_version: int
    newer_available: bool


class CandidateRead(BaseModel):
    model_config = ConfigDict(extra="allow")

    rule: str
    primary: str
    actions: list[str] = Field(description="The kinds of the candidate's actions, in order.")
    confidence: float
    cost_minor: int
    rationale: str
    needs_approval: list[str]


class SkippedRuleRead(BaseModel):
    model_config = ConfigDict(extra="allow")

    rule: str
    reason: str


class FactProblemRead(BaseModel):
    model_config = ConfigDict(extra="allow")

    kind: str
    value: str
    message: str


class DraftRead(BaseModel):
    id: str
    audience: str
    language: str
    source: str
    status: str
    subject: str
    body: str
    problems: list[FactProblemRead] = Field(description="What the fact check found wrong.")


_RECOMMENDATION_EXAMPLE: dict[str, Any] = {
    "id": "01JH0000000000000000000000",
    "case_id": "c-1",
    "created_at": "2026-01-05T09:30:00+00:00",
    "policy": "default",
    "playbook_version": 1,
    "top_rule": "reship-lost",
    "confidence": 0.82,
    "candidates": [],
    "skipped": [],
    "similar": [],
    "drafts": [],
}
_PIN_EXAMPLE: dict[str, Any] = {
    "version": 1,
    "pinned": True,
    "current_version": 2,
    "newer_available": True,
}


class ModelErrorRead(BaseModel):
    kind: str = Field(
        description="timeout, rate_limited, server_error, http_error, unreachable, "
        "bad_answer, quota or error."
    )
    message: str
    at: datetime = Field(description="When the model call failed (or was refused).")


class RecommendationRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_RECOMMENDATION_EXAMPLE]})

    id: str
    case_id: str
    created_at: datetime
    policy: str
    playbook_version: int | None
    top_rule: str | None
    confidence: float | None
    candidates: list[CandidateRead]
    skipped: list[SkippedRuleRead]
    similar: list[dict[str, Any]] = Field(description="Similar past cases and how alike.")
    drafts: list[DraftRead]
    model_error: ModelErrorRead | None = Field(
        default=None,
        description="Why the language model wrote no draft for this recommendation, if it "
        "was asked and failed; the template drafts stand.",
    )


class CreatedRecommendation(RecommendationRead):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_RECOMMENDATION_EXAMPLE, "playbook": _PIN_EXAMPLE}]}
    )

    playbook: PlaybookPinRead


class RecommendationList(BaseModel):
    playbook: PlaybookPinRead
    items: list[RecommendationRead]


class PlaybookRead(BaseModel):
    version: int
    yaml: str = Field(description="The playbook as YAML, as `PUT /v1/playbook` takes it.")


class ModelUsageRead(BaseModel):
    model: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ModelUsageList(BaseModel):
    items: list[ModelUsageRead]


class SummaryCheckRead(BaseModel):
    passed: bool
    problems: list[FactProblemRead]


class SummaryUsageRead(BaseModel):
    model: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CaseSummaryRead(BaseModel):
    summary: str = Field(description="The summary shown: the model's if it passed the checker.")
    source: str = Field(description="`model` or `template`.")
    check: SummaryCheckRead
    fallback_reason: str | None = Field(
        description="Why the template's summary is shown (no model, its error, its quota, "
        "or the claim checker's problems with the model's summary)."
    )
    model_error: ModelErrorRead | None
    model_check: SummaryCheckRead | None = Field(
        description="The checker's verdict on the model's summary, when the model answered."
    )
    usage: SummaryUsageRead | None


class DisputePackRead(BaseModel):
    id: str
    case_id: str
    dispute_ref: str
    status: str
    evidence: dict[str, Any] = Field(description="The evidence fields sent to the processor.")
    documents: dict[str, Any]
    assembled_by: str | None
    approved_by: str | None
    outbox_id: str | None


class DisputePackList(BaseModel):
    items: list[DisputePackRead]
