"""`orderops eval recommend`: the recommender scored on the simulator's ground truth.

For each seed: simulate, judge every label's acceptable resolutions
(``sim.resolutions``), rebuild the case's facts from the events at the decision time (an
hour after the label, ``sim.review_time``; stock included), recommend, and count a top-1
hit when the first primary action is acceptable and a top-3 hit when any of the first
three is. Similar cases come from another seed's reviewer decisions (a desk with
history), so ranking by outcomes is exercised too. The red-team set runs beside it.

The acceptable sets of ``sim.resolutions`` were written beside the default playbook (the
same fraud thresholds), so agreement with them is partly circular. The honest figure is
the agreement with ``sim.reviewer``: one action per case chosen by a simulated human
reviewer with its own rules (``reviewer_top1`` / ``reviewer_top3``, aim
``AIM_REVIEWER_TOP1``). ``recommend.history_evaluation`` does the same on a tenant's own
resolved cases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from orderops.domain.cases import ExceptionType
from orderops.recommend.engine import recommend
from orderops.recommend.event_facts import facts_for, fold_orders, fold_stock, known_lines
from orderops.recommend.facts import CaseFacts
from orderops.recommend.playbook import Playbook, default_playbook
from orderops.recommend.redteam import RedTeamResult, run_redteam
from orderops.recommend.similar import ResolvedCase, SimilarCaseIndex, features_of, summary_of
from orderops.recommend.substitution import Substitute, derive_catalogue, first_substitute
from orderops.recommend.text_index import make_embedder
from orderops.sim import SimConfig, simulate
from orderops.sim.config import LEGACY_TYPES
from orderops.sim.resolutions import NO_ACTION, Resolution, derive_resolutions
from orderops.sim.review_time import by_review_time
from orderops.sim.reviewer import ReviewerDecision, review

AIM_TOP1 = 0.80
AIM_TOP3 = 0.95
AIM_REDTEAM = 1.0
AIM_REVIEWER_TOP1 = 0.70


@dataclass(frozen=True)
class TypeScore:
    exception_type: str
    cases: int
    top1: int
    top3: int
    reviewer_top1: int = 0
    """Cases whose first primary action is the simulated reviewer's choice."""
    reviewer_top3: int = 0

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.cases if self.cases else 0.0

    @property
    def top3_rate(self) -> float:
        return self.top3 / self.cases if self.cases else 0.0

    @property
    def reviewer_top1_rate(self) -> float:
        return self.reviewer_top1 / self.cases if self.cases else 0.0

    @property
    def reviewer_top3_rate(self) -> float:
        return self.reviewer_top3 / self.cases if self.cases else 0.0


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

    @property
    def reviewer_top1_rate(self) -> float:
        return sum(t.reviewer_top1 for t in self.types) / self.cases if self.cases else 0.0

    @property
    def reviewer_top3_rate(self) -> float:
        return sum(t.reviewer_top3 for t in self.types) / self.cases if self.cases else 0.0


@dataclass(frozen=True)
class _Judged:
    truth: Resolution
    decision: ReviewerDecision
    facts: CaseFacts
    substitute: Substitute | None


def _judged(config: SimConfig) -> Iterator[_Judged]:
    """Every label of one simulated run, judged when the desk would look at it.

    The acceptable sets, the reviewer and the recommender all see the order as it stood
    at the label's review time (``sim.review_time``), stock included, and the recommender
    gets the substitute the desk's own finder picks from the catalogue the store's
    orders imply, as the service does.
    """
    result = simulate(config)
    seen = known_lines(result.events)
    catalogue = derive_catalogue((sku, title, price) for sku, (title, price) in seen.items())
    for moment, known, indexes in by_review_time(result.events, result.labels, end=config.end):
        labels = [result.labels[n] for n in indexes]
        orders = fold_orders(known, until=moment)
        stock = fold_stock(known, until=moment)
        truths = derive_resolutions(known, labels, decide_at=moment)
        decisions = review(known, labels, decide_at=moment)
        for truth, decision in zip(truths, decisions, strict=True):
            order = orders.get(truth.label.order_ref)
            if order is None:
                continue
            facts = facts_for(order, exception_type=truth.label.type, now=moment, stock=stock)
            yield _Judged(truth, decision, facts, first_substitute(facts, catalogue))


def _index_from(config: SimConfig, embedder: str = "tfidf") -> SimilarCaseIndex:
    """A history of resolved cases: what the reviewer did on another seed's labels.

    A desk's history is what its people chose, so each past case is resolved the way the
    simulated reviewer resolved it (not by the acceptable sets, whose alphabetical first
    once stood in for a choice nobody made).
    """
    cases: list[ResolvedCase] = []
    for n, judged in enumerate(_judged(config)):
        if judged.decision.action == NO_ACTION:
            continue
        cases.append(
            ResolvedCase(
                case_id=f"h{n}",
                exception_type=str(judged.truth.label.type),
                summary=summary_of(judged.facts),
                features=features_of(judged.facts),
                resolution=judged.decision.action,
            )
        )
    return SimilarCaseIndex(cases, embedder=make_embedder(embedder))


@dataclass(frozen=True)
class ScoredCase:
    truth: Resolution
    reviewer_action: str
    """The simulated human reviewer's one choice (``sim.reviewer``)."""
    kinds: list[str]
    """The recommender's primary actions, best first (``[NO_ACTION]`` when none)."""


def score_seed(
    config: SimConfig, playbook: Playbook, index: SimilarCaseIndex | None
) -> list[ScoredCase]:
    scored: list[ScoredCase] = []
    for judged in _judged(config):
        advice = recommend(judged.facts, playbook, index=index, substitute=judged.substitute)
        kinds = [str(k) for k in advice.ranked_kinds()]
        scored.append(ScoredCase(judged.truth, judged.decision.action, kinds or [NO_ACTION]))
    return scored


def evaluate_recommend(
    *,
    seeds: Iterable[int],
    days: float = 2.0,
    orders_per_day: int = 150,
    playbook: Playbook | None = None,
    with_history: bool = True,
    inject_rate: float = 0.0,
    embedder: str = "tfidf",
) -> RecommendEvaluation:
    """``inject_rate`` > 0 also injects (and labels) every other exception type at that
    rate; by default only payment failures and late shipments are simulated. ``embedder``
    is the similar-case history's text embedder (``recommend/text_index.py``)."""
    book = playbook or default_playbook()
    rates = {t.value: inject_rate for t in ExceptionType if t not in LEGACY_TYPES}
    extra = rates if inject_rate > 0 else {}
    cases: Counter[str] = Counter()
    top1: Counter[str] = Counter()
    top3: Counter[str] = Counter()
    reviewer_top1: Counter[str] = Counter()
    reviewer_top3: Counter[str] = Counter()
    for seed in seeds:
        config = SimConfig(seed=seed, days=days, orders_per_day=orders_per_day, rates=extra)
        index = None
        if with_history:
            index = _index_from(
                SimConfig(
                    seed=seed + 10_000, days=days, orders_per_day=orders_per_day, rates=extra
                ),
                embedder,
            )
        for case in score_seed(config, book, index):
            truth, kinds = case.truth, case.kinds
            key = str(truth.label.type)
            cases[key] += 1
            top1[key] += kinds[0] in truth.acceptable
            top3[key] += any(k in truth.acceptable for k in kinds[:3])
            reviewer_top1[key] += kinds[0] == case.reviewer_action
            reviewer_top3[key] += case.reviewer_action in kinds[:3]
    types = tuple(
        TypeScore(
            exception_type=t,
            cases=cases[t],
            top1=top1[t],
            top3=top3[t],
            reviewer_top1=reviewer_top1[t],
            reviewer_top3=reviewer_top3[t],
        )
        for t in sorted(cases)
    )
    return RecommendEvaluation(types=types, redteam=run_redteam(book))
