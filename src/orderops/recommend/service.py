"""Recommending for a stored case: read its facts, recommend, draft, store, meter.

Runs inside the caller's unit of work; nothing here commits. The case itself is not
edited (its version stays, so nobody's edit conflicts with a recommendation); only its
playbook pin is set by the first one (``recommend.playbook_pins``). The console and the
API read ``recommendations_for``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

from orderops.cases.cases import record
from orderops.domain.actions import WAS_APPROVED
from orderops.domain.errors import NotFound
from orderops.domain.policy import FulfillmentPolicy, parse_policy
from orderops.metering import usage
from orderops.recommend.drafting import Drafter, DraftSet, TemplateSource
from orderops.recommend.engine import Recommendation as Advice
from orderops.recommend.engine import recommend
from orderops.recommend.facts import CaseFacts
from orderops.recommend.history_index import similar_cases
from orderops.recommend.llm import LlmClient
from orderops.recommend.model_use import meter_model_use
from orderops.recommend.playbook import (
    Playbook,
    default_playbook,
    load_playbook,
    parse_playbook,
    playbook_document,
)
from orderops.recommend.playbook_pins import pinned_playbook
from orderops.recommend.settings import RecommendSettings
from orderops.recommend.similar import SimilarCaseIndex
from orderops.recommend.store_facts import case_facts
from orderops.recommend.substitution import (
    CatalogueItem,
    Substitute,
    derive_catalogue,
    first_substitute,
    load_catalogue,
)
from orderops.storage.tables import Action, OrderLineRow, TenantPolicy
from orderops.storage.tables.recommend import (
    LlmUsage,
    Recommendation,
    RecommendationDraft,
    TenantPlaybook,
)
from orderops.storage.uow import UnitOfWork


@dataclass(frozen=True)
class Stored:
    recommendation: Recommendation
    advice: Advice
    drafts: DraftSet
    facts: CaseFacts


# --- playbooks -----------------------------------------------------------------------


def current_playbook(uow: UnitOfWork) -> tuple[Playbook, int]:
    """The tenant's newest playbook and its version (0: the packaged default)."""
    row = uow.session.scalar(
        select(TenantPlaybook)
        .where(TenantPlaybook.tenant_id == uow.tenant_id)
        .order_by(TenantPlaybook.version.desc())
        .limit(1)
    )
    if row is None:
        return default_playbook(), 0
    return parse_playbook(row.document), row.version


def store_playbook(uow: UnitOfWork, text: str, *, actor: str, now: datetime) -> int:
    """Validate and store a new version; an invalid document raises InvalidPlaybook."""
    playbook = load_playbook(text)
    _, version = current_playbook(uow)
    row = TenantPlaybook(
        tenant_id=uow.tenant_id,
        version=version + 1,
        document=playbook_document(playbook),
        created_by=actor,
        created_at=now,
    )
    uow.session.add(row)
    uow.audit.append(
        at=now,
        actor=actor,
        action="playbook.stored",
        entity_type="playbook",
        entity_id=str(row.version),
        data={"name": playbook.name, "version": playbook.version},
    )
    return row.version


# --- inputs ---------------------------------------------------------------------------


def load_policy_or_none(uow: UnitOfWork) -> FulfillmentPolicy | None:
    """The tenant's fulfillment policy in force (substitution band), if it has one."""
    latest = uow.session.scalar(
        select(TenantPolicy)
        .where(TenantPolicy.tenant_id == uow.tenant_id)
        .order_by(TenantPolicy.version.desc())
        .limit(1)
    )
    return None if latest is None else parse_policy(latest.body)


def tenant_catalogue(uow: UnitOfWork, settings: RecommendSettings) -> dict[str, CatalogueItem]:
    known = uow.session.execute(
        select(
            OrderLineRow.sku, func.max(OrderLineRow.title), func.max(OrderLineRow.unit_price_minor)
        )
        .where(OrderLineRow.tenant_id == uow.tenant_id)
        .group_by(OrderLineRow.sku)
    ).all()
    extra: list[CatalogueItem] = []
    if settings.catalogue_dir is not None:
        for suffix, media in ((".json", "application/json"), (".csv", "text/csv")):
            path = Path(settings.catalogue_dir) / f"{uow.tenant_id}{suffix}"
            if path.is_file():
                extra = load_catalogue(path.read_text(), media_type=media)
                break
    return derive_catalogue(((s, t, int(p)) for s, t, p in known), extra)


def substitute_for(
    uow: UnitOfWork, facts: CaseFacts, settings: RecommendSettings
) -> Substitute | None:
    """The best substitute for the first line the shipping location cannot fill."""
    policy = load_policy_or_none(uow)
    band = policy.substitutions.max_price_increase_pct if policy else Decimal("10")
    allowed = policy.substitutions.allowed_categories if policy else None
    return first_substitute(
        facts,
        tenant_catalogue(uow, settings),
        max_price_increase_pct=band,
        allowed_categories=allowed or None,
    )


# --- recommending ---------------------------------------------------------------------


def meter(uow: UnitOfWork, drafts: DraftSet, *, case_id: str | None, now: datetime) -> None:
    meter_model_use(uow, drafts.usage, purpose="draft", case_id=case_id, now=now)


def recommend_case(
    uow: UnitOfWork,
    case_id: str,
    *,
    now: datetime,
    actor: str,
    settings: RecommendSettings | None = None,
    llm: LlmClient | None = None,
    language: str | None = None,
    index: SimilarCaseIndex | None = None,
) -> Stored:
    """``index``: the similar-case index to consult (a pass shares one); by default the
    tenant's kept index, brought up to date first (``recommend.history_index``)."""
    settings = settings or RecommendSettings()
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    facts = case_facts(uow, case, now=now)
    # The version the case is pinned to, not the newest (recommend/playbook_pins.py).
    playbook, version = pinned_playbook(uow, case)
    advice = recommend(
        facts,
        playbook,
        substitute=substitute_for(uow, facts, settings),
        index=index if index is not None else similar_cases(uow, settings),
    )
    tenant_dir = Path(settings.templates_dir) / uow.tenant_id if settings.templates_dir else None
    # A tenant at its hard model quota gets the templates' drafts, and the reason.
    refusal = usage.model_refusal(uow, now=now) if llm is not None else None
    drafter = Drafter(TemplateSource(tenant_dir), None if refusal else llm)
    link = f"{settings.console_base_url.rstrip('/')}/console/cases/{case.id}"
    drafts = drafter.draft(facts, advice, language=language, link=link)
    if refusal:
        drafts = replace(drafts, model_error=refusal)
    top = advice.top
    row = Recommendation(
        tenant_id=uow.tenant_id,
        case_id=case.id,
        order_ref=case.order_ref,
        exception_type=case.exception_type,
        policy=f"{advice.policy} (tenant version {version})",
        top_rule=top.rule if top else None,
        confidence=top.confidence if top else None,
        body={**advice.as_json(), "model_error": drafts.model_error},
        created_by=actor,
        created_at=now,
        playbook_version=version,
    )
    uow.session.add(row)
    uow.session.flush()
    for draft in drafts.drafts:
        uow.session.add(
            RecommendationDraft(
                tenant_id=uow.tenant_id,
                recommendation_id=row.id,
                audience=draft.audience,
                language=draft.language,
                source=draft.source,
                status=draft.status,
                subject=draft.subject,
                body=draft.body,
                problems=draft.check.as_json(),
                created_at=now,
            )
        )
    meter(uow, drafts, case_id=case.id, now=now)
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="recommended",
        summary=(
            f"Recommended {top.rule} ({top.primary}, confidence {top.confidence:.0%})"
            if top
            else "No playbook rule fits this case"
        ),
        data={"recommendation_id": row.id, "policy": row.policy, "playbook_version": version},
    )
    return Stored(row, advice, drafts, facts)


def compact(row: Recommendation, drafts: list[RecommendationDraft]) -> dict[str, Any]:
    """What a list or the console shows: top candidates, their cost, drafts' status."""
    body = row.body
    return {
        "id": row.id,
        "case_id": row.case_id,
        "created_at": row.created_at.isoformat(),
        "policy": row.policy,
        "playbook_version": row.playbook_version,
        "top_rule": row.top_rule,
        "confidence": row.confidence,
        "candidates": [
            {
                "rule": c["rule"],
                "primary": c["primary"],
                "actions": [a["kind"] for a in c["actions"]],
                "confidence": c["confidence"],
                "cost_minor": c["cost"]["total_minor"],
                "rationale": c["rationale"],
                "needs_approval": c["needs_approval"],
            }
            for c in body.get("candidates", [])[:3]
        ],
        "skipped": body.get("skipped", []),
        "similar": body.get("similar", []),
        "drafts": [
            {
                "id": d.id,
                "audience": d.audience,
                "language": d.language,
                "source": d.source,
                "status": d.status,
                "subject": d.subject,
                "body": d.body,
                "problems": d.problems.get("problems", []),
            }
            for d in drafts
        ],
    }


def drafts_of(uow: UnitOfWork, recommendation_id: str) -> list[RecommendationDraft]:
    return list(
        uow.session.scalars(
            select(RecommendationDraft)
            .where(
                RecommendationDraft.tenant_id == uow.tenant_id,
                RecommendationDraft.recommendation_id == recommendation_id,
            )
            .order_by(RecommendationDraft.id)
        )
    )


def recommendations_for(uow: UnitOfWork, case_id: str, *, limit: int = 5) -> list[dict[str, Any]]:
    """The case's recommendations, newest first, in the compact form (for API and console)."""
    rows = uow.session.scalars(
        select(Recommendation)
        .where(Recommendation.tenant_id == uow.tenant_id, Recommendation.case_id == case_id)
        .order_by(Recommendation.created_at.desc(), Recommendation.id.desc())
        .limit(limit)
    ).all()
    return [compact(row, drafts_of(uow, row.id)) for row in rows]


def get_recommendation(uow: UnitOfWork, recommendation_id: str) -> Recommendation:
    row = uow.session.scalar(
        select(Recommendation).where(
            Recommendation.tenant_id == uow.tenant_id, Recommendation.id == recommendation_id
        )
    )
    if row is None:
        raise NotFound(f"no recommendation {recommendation_id}")
    return row


def usage_summary(uow: UnitOfWork, *, since: datetime | None = None) -> list[dict[str, Any]]:
    """Tokens per model for the tenant (since a time, or ever)."""
    query = select(
        LlmUsage.model,
        func.count(LlmUsage.id),
        func.sum(LlmUsage.prompt_tokens),
        func.sum(LlmUsage.completion_tokens),
    ).where(LlmUsage.tenant_id == uow.tenant_id)
    if since is not None:
        query = query.where(LlmUsage.at >= since)
    rows = uow.session.execute(query.group_by(LlmUsage.model).order_by(LlmUsage.model)).all()
    return [
        {
            "model": model,
            "calls": int(calls),
            "prompt_tokens": int(prompt or 0),
            "completion_tokens": int(completion or 0),
            "total_tokens": int(prompt or 0) + int(completion or 0),
        }
        for model, calls, prompt, completion in rows
    ]


def playbook_yaml(playbook: Playbook) -> str:
    return yaml.safe_dump(playbook_document(playbook), sort_keys=False, allow_unicode=True)


def approved_actions(uow: UnitOfWork, case_id: str) -> list[dict[str, Any]]:
    """The case's approved actions (delivered or not), for the approvals part of an
    evidence pack and the facts a draft is checked against."""
    rows = uow.session.scalars(
        select(Action)
        .where(
            Action.tenant_id == uow.tenant_id,
            Action.case_id == case_id,
            Action.status.in_([str(s) for s in WAS_APPROVED]),
        )
        .order_by(Action.created_at, Action.id)
    )
    return [{"id": a.id, "kind": a.kind, "decided_at": a.decided_at} for a in rows]
