"""Case summaries for the support team: a language model's when it passes, a template's else.

The model (``recommend.llm``, off by default) sees the same minimum a draft's model sees:
formatted facts, no email, phone or address, and the ticket as quoted data. Its summary
passes the same claim checker as every draft (``recommend.factcheck``) against the case's
facts with no action approved, so a summary cannot say a refund or a cancellation
happened that the facts do not show. A blocked summary is never shown: the template's
summary, built from the facts alone, stands, with the reason (the checker's problems,
the model's error or the tenant's quota) beside it.

Tokens are metered per tenant whether or not the summary passed (they were spent), in the
same two places a draft's are: an ``llm_usage`` row (``GET /v1/llm/usage``) and the
``model_tokens``/``model_cost`` usage meters. Each summary is a case timeline entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.cases.cases import record
from orderops.domain.errors import NotFound
from orderops.metering import usage
from orderops.recommend.claims import CheckResult
from orderops.recommend.drafting import known_facts
from orderops.recommend.factcheck import check_text
from orderops.recommend.facts import CaseFacts
from orderops.recommend.formatting import day, money
from orderops.recommend.llm import (
    LlmClient,
    ModelUnavailable,
    Usage,
    build_summary_messages,
    error_kind,
)
from orderops.recommend.model_use import meter_model_use
from orderops.recommend.store_facts import case_facts
from orderops.storage.tables.recommend import Recommendation
from orderops.storage.uow import UnitOfWork

PURPOSE = "summary"


@dataclass(frozen=True)
class ModelError:
    """The model's last failure as the API shows it: what kind, what it said, when."""

    kind: str
    message: str
    at: datetime

    @classmethod
    def of(cls, message: str | None, at: datetime) -> ModelError | None:
        return None if not message else cls(error_kind(message), message, at)

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "at": self.at.isoformat()}


@dataclass(frozen=True)
class CaseSummary:
    text: str
    source: str
    """``model`` or ``template``: who wrote the text shown."""
    check: CheckResult
    """The claim checker's verdict on the text shown."""
    fallback_reason: str | None = None
    """Why the template's summary is shown: no model, its error, its quota, or its summary
    blocked (with the checker's problems)."""
    model_error: ModelError | None = None
    model_check: CheckResult | None = None
    """The checker's verdict on the model's summary when there was one."""
    usage: Usage | None = None
    seconds: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "summary": self.text,
            "source": self.source,
            "check": self.check.as_json(),
            "fallback_reason": self.fallback_reason,
            "model_error": self.model_error.as_json() if self.model_error else None,
            "model_check": self.model_check.as_json() if self.model_check else None,
            "usage": (
                {
                    "model": self.usage.model,
                    "prompt_tokens": self.usage.prompt_tokens,
                    "completion_tokens": self.usage.completion_tokens,
                    "total_tokens": self.usage.total_tokens,
                }
                if self.usage
                else None
            ),
        }


def _words(value: object) -> str:
    return str(value).replace("_", " ")


def summary_facts(facts: CaseFacts) -> dict[str, Any]:
    """What the model may cite, formatted as the checker reads it (English)."""
    shipment = facts.latest_shipment
    block: dict[str, Any] = {
        "exception": _words(facts.exception_type),
        "order": facts.label,
        "order_total": money(facts.total_minor, facts.currency, "en"),
        "placed": day(facts.placed_at.date(), "en"),
        "customer_tier": facts.customer_tier,
        "tickets": len(facts.tickets),
    }
    if facts.promised_by is not None:
        block["promised_by"] = day(facts.promised_by.date(), "en")
    if facts.refunded_minor:
        block["refunded"] = money(facts.refunded_minor, facts.currency, "en")
    if shipment is not None:
        block["carrier"] = shipment.carrier
        block["tracking"] = shipment.tracking_number
        block["tracking_status"] = _words(shipment.status)
    return block


def template_summary(facts: CaseFacts) -> str:
    """The summary built from the facts alone; it cites nothing the facts lack."""
    block = summary_facts(facts)
    parts = [
        f"{block['exception'].capitalize()} on order {block['order']}"
        f" ({block['order_total']}, placed {block['placed']})."
    ]
    if "promised_by" in block:
        parts.append(f"Promised by {block['promised_by']}.")
    if "tracking" in block:
        parts.append(
            f"Latest parcel: {block['carrier']} {block['tracking']}, {block['tracking_status']}."
        )
    if "refunded" in block:
        parts.append(f"Refunded so far: {block['refunded']}.")
    tickets = block["tickets"]
    if tickets:
        parts.append(f"The customer wrote {tickets} ticket{'s' if tickets != 1 else ''}.")
    if facts.customer_tier != "standard":
        parts.append(f"Customer tier: {facts.customer_tier}.")
    return " ".join(parts)


def summarize(
    facts: CaseFacts, *, llm: LlmClient | None, now: datetime, refusal: str | None = None
) -> CaseSummary:
    """The summary to show, checked; ``refusal``: why the model may not be asked (quota)."""
    known = known_facts(facts, None)
    template = template_summary(facts)
    template_check = check_text(template, known)
    if not template_check.passed:  # never show a blocked text, even the template's
        template = f"{_words(facts.exception_type).capitalize()} on order {facts.label}."
        template_check = check_text(template, known)
    fallback = CaseSummary(template, "template", template_check)
    if refusal is not None:
        return _with(fallback, reason=refusal, error=ModelError.of(refusal, now))
    if llm is None:
        return _with(fallback, reason="no language model is configured")
    ticket = "\n\n".join(f"{t.subject or ''}\n{t.body or ''}".strip() for t in facts.tickets)
    try:
        text, used, seconds = llm.summarize(build_summary_messages(summary_facts(facts), ticket))
    except ModelUnavailable as exc:
        return _with(fallback, reason=exc.message, error=ModelError(exc.kind, exc.message, now))
    check = check_text(text, known)
    if check.passed:
        return CaseSummary(text, "model", check, model_check=check, usage=used, seconds=seconds)
    reasons = "; ".join(p.message for p in check.problems)
    return CaseSummary(
        fallback.text,
        "template",
        fallback.check,
        fallback_reason=f"the model's summary was blocked by the claim checker: {reasons}",
        model_check=check,
        usage=used,
        seconds=seconds,
    )


def _with(summary: CaseSummary, *, reason: str, error: ModelError | None = None) -> CaseSummary:
    return CaseSummary(
        summary.text, summary.source, summary.check, fallback_reason=reason, model_error=error
    )


def meter_summary(uow: UnitOfWork, summary: CaseSummary, *, case_id: str, now: datetime) -> None:
    """The tokens a summary spent, on the tenant's meters (passed or blocked alike)."""
    meter_model_use(uow, summary.usage, purpose=PURPOSE, case_id=case_id, now=now)


def summarize_case(
    uow: UnitOfWork, case_id: str, *, now: datetime, actor: str, llm: LlmClient | None
) -> CaseSummary:
    """Summarise a stored case in the caller's unit of work (nothing here commits)."""
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    facts = case_facts(uow, case, now=now)
    refusal = usage.model_refusal(uow, now=now) if llm is not None else None
    summary = summarize(facts, llm=llm, now=now, refusal=refusal)
    meter_summary(uow, summary, case_id=case.id, now=now)
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="summarized",
        summary=f"Case summarised ({summary.source})",
        data={
            "source": summary.source,
            "fallback_reason": summary.fallback_reason,
            "model_error": summary.model_error.as_json() if summary.model_error else None,
        },
    )
    return summary


def recommendation_errors(uow: UnitOfWork, ids: list[str]) -> dict[str, ModelError | None]:
    """The model error each recommendation stored (kind, message, when), by its id."""
    if not ids:
        return {}
    rows = uow.session.execute(
        select(Recommendation.id, Recommendation.body, Recommendation.created_at).where(
            Recommendation.tenant_id == uow.tenant_id, Recommendation.id.in_(ids)
        )
    ).all()
    return {
        row_id: ModelError.of((body or {}).get("model_error"), created_at)
        for row_id, body, created_at in rows
    }
