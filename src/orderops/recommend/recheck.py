"""Re-checking a customer message after a person edits it, with the same fact checker that
checked the recommender's own drafts.

A draft is only as good as its last edit: a reviewer who types a wrong amount must be
stopped exactly like a model that invents one. The facts are read fresh from the store;
the money a message may promise is what the case's newest recommendation gives (its top
candidate, rebuilt from the stored JSON), so "we are refunding you" passes only when a
refund was recommended.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.domain.actions import ActionKind
from orderops.recommend.cost import Cost
from orderops.recommend.drafting import known_facts
from orderops.recommend.engine import Candidate, CandidateAction
from orderops.recommend.factcheck import CheckResult, check_text
from orderops.recommend.store_facts import case_facts
from orderops.storage.tables import Case
from orderops.storage.tables.recommend import Recommendation
from orderops.storage.uow import UnitOfWork

_COST_PARTS = ("refund_minor", "credit_minor", "label_minor", "goods_minor")


def candidate_of(body: dict[str, Any]) -> Candidate | None:
    """The top candidate of a stored recommendation body, or None when nothing fitted."""
    candidates = body.get("candidates") or []
    if not candidates:
        return None
    top = candidates[0]
    actions = tuple(
        CandidateAction(
            kind=ActionKind(a["kind"]),
            params=dict(a.get("params") or {}),
            exposure_minor=int(a.get("exposure_minor") or 0),
            cost=Cost(**{part: int((a.get("cost") or {}).get(part, 0)) for part in _COST_PARTS}),
        )
        for a in top.get("actions", [])
    )
    if not actions:
        return None
    return Candidate(
        rule=str(top.get("rule", "")),
        priority=0,
        actions=actions,
        facts_used=dict(top.get("facts_used") or {}),
        rationale=str(top.get("rationale", "")),
        policy_score=float(top.get("policy_score") or 0.0),
        evidence=None if top.get("evidence") is None else float(top["evidence"]),
        score=float(top.get("score") or 0.0),
        confidence=float(top.get("confidence") or 0.0),
        needs_approval=tuple(top.get("needs_approval") or ()),
    )


def recheck_message(
    uow: UnitOfWork, case: Case, *, subject: str | None, body: str, now: datetime
) -> CheckResult:
    """Every problem the fact checker finds in a message's subject and body for this case."""
    newest = uow.session.scalar(
        select(Recommendation)
        .where(Recommendation.tenant_id == uow.tenant_id, Recommendation.case_id == case.id)
        .order_by(Recommendation.created_at.desc(), Recommendation.id.desc())
        .limit(1)
    )
    candidate = candidate_of(newest.body) if newest is not None else None
    known = known_facts(case_facts(uow, case, now=now), candidate)
    text = f"{subject}\n\n{body}" if subject else body
    return check_text(text, known)
