"""`orderops eval recommend --from-history`: the recommender against what people chose.

For each of a tenant's resolved cases (newest closed first, up to ``limit``): the
actions people approved on it (approved, executed or failed after approval; actions an
auto-policy approved are left out, they are the engine's own choice), against what the
engine recommends *now* (the tenant's current playbook). Top-1 agrees when the first
recommended primary action is one of the approved kinds, top-3 when any of the first
three is.

Two honest limits: the similar-case index is not consulted (it holds this very case's
resolution, which would leak the answer), and the case's facts are read from the desk's
current projection as of the first approval's time, not replayed from the events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select

from orderops.domain.actions import WAS_APPROVED
from orderops.domain.cases import CaseStatus
from orderops.domain.errors import NotFound
from orderops.recommend.engine import recommend
from orderops.recommend.service import current_playbook, substitute_for
from orderops.recommend.settings import RecommendSettings
from orderops.recommend.store_facts import case_facts
from orderops.storage.tables import Action, Case
from orderops.storage.uow import UnitOfWork

HISTORY_CASES = 2_000


@dataclass(frozen=True)
class HistoryTypeScore:
    exception_type: str
    cases: int
    top1: int
    top3: int

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.cases if self.cases else 0.0

    @property
    def top3_rate(self) -> float:
        return self.top3 / self.cases if self.cases else 0.0


@dataclass(frozen=True)
class HistoryEvaluation:
    types: tuple[HistoryTypeScore, ...]
    without_choice: int
    """Resolved cases with no action a person approved (skipped)."""
    playbook_version: int

    @property
    def cases(self) -> int:
        return sum(t.cases for t in self.types)

    @property
    def top1_rate(self) -> float:
        return sum(t.top1 for t in self.types) / self.cases if self.cases else 0.0

    @property
    def top3_rate(self) -> float:
        return sum(t.top3 for t in self.types) / self.cases if self.cases else 0.0


def people_choices(uow: UnitOfWork, case_ids: list[str]) -> dict[str, list[Action]]:
    """Per case, the actions a person approved (not an auto-policy), oldest first."""
    chosen: dict[str, list[Action]] = {}
    for start in range(0, len(case_ids), 500):
        rows = uow.session.scalars(
            select(Action)
            .where(
                Action.tenant_id == uow.tenant_id,
                Action.case_id.in_(case_ids[start : start + 500]),
                Action.status.in_([str(s) for s in WAS_APPROVED]),
                Action.auto_rule.is_(None),
            )
            .order_by(Action.created_at, Action.id)
        )
        for action in rows:
            chosen.setdefault(action.case_id, []).append(action)
    return chosen


def evaluate_history(
    uow: UnitOfWork, *, limit: int = HISTORY_CASES, settings: RecommendSettings | None = None
) -> HistoryEvaluation:
    """Score the engine's current advice on the tenant's resolved cases (read only)."""
    settings = settings or RecommendSettings()
    cases = list(
        uow.session.scalars(
            select(Case)
            .where(
                Case.tenant_id == uow.tenant_id,
                Case.status == str(CaseStatus.RESOLVED),
                Case.closed_at.is_not(None),
            )
            .order_by(Case.closed_at.desc(), Case.id)
            .limit(limit)
        )
    )
    chosen = people_choices(uow, [c.id for c in cases])
    playbook, version = current_playbook(uow)
    counts: Counter[str] = Counter()
    top1: Counter[str] = Counter()
    top3: Counter[str] = Counter()
    without = 0
    for case in cases:
        actions = chosen.get(case.id)
        if not actions:
            without += 1
            continue
        try:
            facts = case_facts(uow, case, now=actions[0].created_at)
        except NotFound:
            without += 1
            continue
        advice = recommend(facts, playbook, substitute=substitute_for(uow, facts, settings))
        kinds = [str(k) for k in advice.ranked_kinds()]
        approved = {a.kind for a in actions}
        counts[case.exception_type] += 1
        top1[case.exception_type] += bool(kinds) and kinds[0] in approved
        top3[case.exception_type] += any(k in approved for k in kinds[:3])
    types = tuple(
        HistoryTypeScore(exception_type=t, cases=counts[t], top1=top1[t], top3=top3[t])
        for t in sorted(counts)
    )
    return HistoryEvaluation(types=types, without_choice=without, playbook_version=version)
