"""`orderops eval recommend`: the recommender scored on the simulator's ground truth.

For each seed: simulate, judge every label's acceptable resolutions
(``sim.resolutions``), rebuild the case's facts from the events at the decision time
(the end of the window), recommend, and count a top-1 hit when the first primary action
is acceptable and a top-3 hit when any of the first three is. Similar cases come from
the previous seed's ground truth (a desk with history), so ranking by outcomes is
exercised too. The red-team set runs beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from orderops.recommend.engine import recommend
from orderops.recommend.event_facts import facts_for, fold_orders
from orderops.recommend.playbook import Playbook, default_playbook
from orderops.recommend.redteam import RedTeamResult, run_redteam
from orderops.recommend.similar import ResolvedCase, SimilarCaseIndex, features_of, summary_of
from orderops.sim import SimConfig, simulate
from orderops.sim.resolutions import NO_ACTION, Resolution, derive_resolutions

AIM_TOP1 = 0.80
AIM_TOP3 = 0.95
AIM_REDTEAM = 1.0


@dataclass(frozen=True)
class TypeScore:
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
class RecommendEvaluation:
    types: tuple[TypeScore, ...]
    redteam: RedTeamResult

    @property
    def cases(self) -> int:
        return sum(t.cases for t in self.types)

    @property
    def top1_rate(self) -> float:
        return sum(t.top1 for t in self.types) / self.cases if self.cases else 0.0

    @property
    def top3_rate(self) -> float:
        return sum(t.top3 for t in self.types) / self.cases if self.cases else 0.0


def _index_from(config: SimConfig) -> SimilarCaseIndex:
    """A history of resolved cases: one seed's ground truth, each resolved cleanly."""
    result = simulate(config)
    orders = fold_orders(result.events, until=config.end)
    cases: list[ResolvedCase] = []
    for n, truth in enumerate(
        derive_resolutions(result.events, result.labels, decide_at=config.end)
    ):
        if NO_ACTION in truth.acceptable or truth.label.order_ref not in orders:
            continue
        facts = facts_for(
            orders[truth.label.order_ref], exception_type=truth.label.type, now=config.end
        )
        cases.append(
            ResolvedCase(
                case_id=f"h{n}",
                exception_type=str(truth.label.type),
                summary=summary_of(facts),
                features=features_of(facts),
                resolution=sorted(truth.acceptable)[0],
            )
        )
    return SimilarCaseIndex(cases)


def score_seed(
    config: SimConfig, playbook: Playbook, index: SimilarCaseIndex | None
) -> list[tuple[Resolution, list[str]]]:
    result = simulate(config)
    orders = fold_orders(result.events, until=config.end)
    truths = derive_resolutions(result.events, result.labels, decide_at=config.end)
    scored: list[tuple[Resolution, list[str]]] = []
    for truth in truths:
        order = orders.get(truth.label.order_ref)
        if order is None:
            continue
        facts = facts_for(order, exception_type=truth.label.type, now=config.end)
        kinds = [str(k) for k in recommend(facts, playbook, index=index).ranked_kinds()]
        scored.append((truth, kinds or [NO_ACTION]))
    return scored


def evaluate_recommend(
    *,
    seeds: Iterable[int],
    days: float = 2.0,
    orders_per_day: int = 150,
    playbook: Playbook | None = None,
    with_history: bool = True,
) -> RecommendEvaluation:
    book = playbook or default_playbook()
    cases: Counter[str] = Counter()
    top1: Counter[str] = Counter()
    top3: Counter[str] = Counter()
    for seed in seeds:
        config = SimConfig(seed=seed, days=days, orders_per_day=orders_per_day)
        index = None
        if with_history:
            index = _index_from(
                SimConfig(seed=seed + 10_000, days=days, orders_per_day=orders_per_day)
            )
        for truth, kinds in score_seed(config, book, index):
            key = str(truth.label.type)
            cases[key] += 1
            top1[key] += kinds[0] in truth.acceptable
            top3[key] += any(k in truth.acceptable for k in kinds[:3])
    types = tuple(
        TypeScore(exception_type=t, cases=cases[t], top1=top1[t], top3=top3[t])
        for t in sorted(cases)
    )
    return RecommendEvaluation(types=types, redteam=run_redteam(book))
