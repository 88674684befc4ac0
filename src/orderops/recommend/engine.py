"""Recommending: match the playbook's rules, plan and guard their actions, rank, explain.

Ranking mixes the policy's own preference (rule priority) with what worked on similar
resolved cases (clean outcomes of the same primary action). Without similar cases the
policy alone decides. Confidence is the top candidate's share of the total score, pulled
towards agreement with the neighbours when there are any: a lone rule with no history
is not called certain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orderops.domain.actions import ActionKind, InvalidAction, PlannedAction, plan
from orderops.recommend.conditions import evaluate
from orderops.recommend.cost import Cost, CostModel, action_cost
from orderops.recommend.facts import CaseFacts
from orderops.recommend.guardrails import check
from orderops.recommend.params import TemplateError, build_params
from orderops.recommend.playbook import Playbook, Rule
from orderops.recommend.similar import (
    Neighbour,
    SimilarCaseIndex,
    features_of,
    outcome_evidence,
    summary_of,
)
from orderops.recommend.substitution import Substitute

POLICY_WEIGHT = 0.6
PRIORITY_SCALE = 100.0


@dataclass(frozen=True)
class CandidateAction:
    kind: ActionKind
    params: dict[str, Any]
    exposure_minor: int
    cost: Cost

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "params": self.params,
            "exposure_minor": self.exposure_minor,
            "cost": self.cost.as_json(),
        }


@dataclass(frozen=True)
class Candidate:
    rule: str
    priority: int
    actions: tuple[CandidateAction, ...]
    facts_used: dict[str, object]
    rationale: str
    policy_score: float
    evidence: float | None
    score: float = 0.0
    confidence: float = 0.0
    needs_approval: tuple[str, ...] = ()

    @property
    def primary(self) -> ActionKind:
        return self.actions[0].kind

    @property
    def cost(self) -> Cost:
        total = Cost()
        for action in self.actions:
            total = total + action.cost
        return total

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "primary": str(self.primary),
            "actions": [a.as_json() for a in self.actions],
            "facts_used": self.facts_used,
            "rationale": self.rationale,
            "policy_score": round(self.policy_score, 4),
            "evidence": None if self.evidence is None else round(self.evidence, 4),
            "score": round(self.score, 4),
            "confidence": round(self.confidence, 4),
            "needs_approval": list(self.needs_approval),
            "cost": self.cost.as_json(),
        }


@dataclass(frozen=True)
class Skipped:
    rule: str
    reason: str


@dataclass(frozen=True)
class Recommendation:
    case_id: str | None
    order_ref: str
    exception_type: str
    policy: str
    candidates: tuple[Candidate, ...]
    skipped: tuple[Skipped, ...]
    similar: tuple[Neighbour, ...]
    substitute: Substitute | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def ranked_kinds(self) -> list[ActionKind]:
        """Primary action kinds in rank order, each once."""
        seen: list[ActionKind] = []
        for candidate in self.candidates:
            if candidate.primary not in seen:
                seen.append(candidate.primary)
        return seen

    def as_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "order_ref": self.order_ref,
            "exception_type": self.exception_type,
            "policy": self.policy,
            "candidates": [c.as_json() for c in self.candidates],
            "skipped": [{"rule": s.rule, "reason": s.reason} for s in self.skipped],
            "similar": [{**n.case.as_json(), "similarity": n.similarity} for n in self.similar],
            "substitute": None
            if self.substitute is None
            else {
                "from_sku": self.substitute.from_sku,
                "to_sku": self.substitute.to_sku,
                "explanation": self.substitute.explanation,
            },
        }


def _plan_rule(
    rule: Rule, facts: CaseFacts, substitute: Substitute | None, costs: CostModel
) -> tuple[list[PlannedAction], list[CandidateAction]]:
    context = facts.action_context()
    planned: list[PlannedAction] = []
    actions: list[CandidateAction] = []
    for template in rule.actions:
        params = build_params(template, facts, substitute)
        step = plan(template.kind, params, context)
        planned.append(step)
        actions.append(
            CandidateAction(
                kind=step.kind,
                params=step.params_json,
                exposure_minor=step.exposure_minor,
                cost=action_cost(step.kind, step.params_json, step.exposure_minor, costs),
            )
        )
    return planned, actions


def recommend(
    facts: CaseFacts,
    playbook: Playbook,
    *,
    substitute: Substitute | None = None,
    index: SimilarCaseIndex | None = None,
    costs: CostModel | None = None,
    k: int = 5,
) -> Recommendation:
    """Every acceptable candidate for the case, best first, each with why and what it costs.

    Only the playbook proposes actions; nothing in ticket text or a model's output reaches
    this function, so no message can talk the desk into a refund.
    """
    costs = costs or CostModel()
    similar: list[Neighbour] = []
    if index is not None:
        similar = index.nearest(
            exception_type=str(facts.exception_type),
            summary=summary_of(facts),
            features=features_of(facts),
            k=k,
        )
    evidence = outcome_evidence(similar)
    raw: list[Candidate] = []
    skipped: list[Skipped] = []
    for rule in playbook.rules_for(facts.exception_type):
        match = evaluate(rule.when, facts, substitute_available=substitute is not None)
        if not match.holds:
            skipped.append(Skipped(rule.name, f"condition {match.failed} does not hold"))
            continue
        try:
            planned, actions = _plan_rule(rule, facts, substitute, costs)
        except (TemplateError, InvalidAction) as exc:
            skipped.append(Skipped(rule.name, str(exc)))
            continue
        verdict = check(planned, facts, playbook.guardrails)
        if verdict.blocked:
            skipped.append(Skipped(rule.name, "guardrail: " + "; ".join(verdict.blocked)))
            continue
        policy_score = rule.priority / PRIORITY_SCALE
        support = evidence.get(str(actions[0].kind), 0.0) if evidence else None
        score = (
            policy_score
            if support is None
            else (POLICY_WEIGHT * policy_score + (1 - POLICY_WEIGHT) * support)
        )
        rationale = (
            f"rule {rule.name} of playbook {playbook.reference}"
            + (f": {rule.rationale}" if rule.rationale else "")
            + (
                f"; {len(similar)} similar case(s), {support:.0%} clean outcomes with "
                f"{actions[0].kind}"
                if support is not None
                else "; no similar resolved cases"
            )
        )
        raw.append(
            Candidate(
                rule=rule.name,
                priority=rule.priority,
                actions=tuple(actions),
                facts_used=match.facts_used,
                rationale=rationale,
                policy_score=policy_score,
                evidence=support,
                score=score,
                needs_approval=verdict.needs_approval,
            )
        )
    ranked = sorted(raw, key=lambda c: (-c.score, -c.priority, c.rule))
    return Recommendation(
        case_id=facts.case_id,
        order_ref=facts.order_ref,
        exception_type=str(facts.exception_type),
        policy=playbook.reference,
        candidates=tuple(_with_confidence(ranked)),
        skipped=tuple(skipped),
        similar=tuple(similar),
        substitute=substitute,
    )


def _with_confidence(ranked: Sequence[Candidate]) -> list[Candidate]:
    total = sum(c.score for c in ranked)
    out: list[Candidate] = []
    for candidate in ranked:
        share = candidate.score / total if total > 0 else 0.0
        confidence = share if candidate.evidence is None else (share + candidate.evidence) / 2
        # A candidate alone is not certain: cap by how strongly the policy prefers it.
        confidence = min(confidence, 0.5 + candidate.policy_score / 2)
        out.append(_replace(candidate, confidence=round(min(max(confidence, 0.0), 0.99), 4)))
    return out


def _replace(candidate: Candidate, **changes: Any) -> Candidate:
    from dataclasses import replace

    return replace(candidate, **changes)
