"""Measuring identity resolution against the simulator's ground truth.

For each seed: simulate a store with duplicate customers, feed the events that carry
customer details (``customer.upserted`` and ``order.placed``) through the real intake and
projector into a fresh SQLite database, resolve, then compare who-is-who pairwise.

Pairwise over provider customer refs: a pair of refs is *predicted* together when they
end on the same golden id (whether the projector already folded them into one customer
row by email, or resolution linked two rows), and *truly* together when the simulator
says they are one person. Precision = right pairs / predicted pairs; recall = right
pairs / true pairs. Micro-averaged over seeds by summing pair counts.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.resolve.identity.clustering import pairwise_scores
from orderops.resolve.identity.service import golden_ids, resolve_customers, store
from orderops.sim import SimConfig, simulate
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.batch import ingest_items

AIM_PRECISION = 0.99
AIM_RECALL = 0.95
CUSTOMER_EVENTS = frozenset({"customer.upserted", "order.placed"})
TENANT = "identity-eval"


@dataclass(frozen=True)
class PairScore:
    true_positive: int
    predicted: int
    actual: int

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.actual if self.actual else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


@dataclass(frozen=True)
class SeedResult:
    seed: int
    customer_refs: int
    customer_rows: int
    people: int
    golden_customers: int
    candidate_pairs: int
    score: PairScore
    seconds: float


@dataclass(frozen=True)
class IdentityEvaluation:
    rate: float
    seeds: tuple[SeedResult, ...]

    @property
    def total(self) -> PairScore:
        return PairScore(
            sum(s.score.true_positive for s in self.seeds),
            sum(s.score.predicted for s in self.seeds),
            sum(s.score.actual for s in self.seeds),
        )

    @property
    def meets_aims(self) -> bool:
        return self.total.precision >= AIM_PRECISION and self.total.recall >= AIM_RECALL

    def to_json(self) -> dict[str, Any]:
        def score(value: PairScore) -> dict[str, Any]:
            return {
                **asdict(value),
                "precision": value.precision,
                "recall": value.recall,
                "f1": value.f1,
            }

        return {
            "method": "sim -> intake/projector (SQLite) -> resolve_customers; pairwise over refs",
            "duplicate_customer_rate": self.rate,
            "aims": {"precision": AIM_PRECISION, "recall": AIM_RECALL},
            "meets_aims": self.meets_aims,
            "total": score(self.total),
            "seeds": [
                {**{k: v for k, v in asdict(s).items() if k != "score"}, **score(s.score)}
                for s in self.seeds
            ],
        }


def evaluate_seed(
    seed: int, *, rate: float, days: float = 1.0, orders_per_day: int = 150, workdir: Path
) -> SeedResult:
    started = time.perf_counter()
    config = SimConfig(
        seed=seed, duplicate_customer_rate=rate, days=days, orders_per_day=orders_per_day
    )
    result = simulate(config)
    clock = FixedClock(config.end)
    settings = Settings(
        database_url=f"sqlite:///{workdir / f'identity-{seed}.db'}",
        data_dir=workdir,
        demo_mode=True,
    )
    app = bootstrap(settings, clock=clock)
    try:
        ensure_tenant(app.sessions, tenant_id=TENANT, name=TENANT, clock=clock)
        ingest_items(
            app.sessions,
            tenant_id=TENANT,
            items=[e for e in result.events if e["type"] in CUSTOMER_EVENTS],
            channel="identity-eval",
            clock=clock,
        )
        with UnitOfWork(app.sessions, tenant_id=TENANT) as uow:
            report = resolve_customers(uow, clock=clock)
            uow.commit()
        with UnitOfWork(app.sessions, tenant_id=TENANT, write=False) as uow:
            row_of_ref = store(uow).customer_ids_by_ref()
            golden = golden_ids(uow)
    finally:
        app.close()
    predicted = {ref: golden[row] for ref, row in row_of_ref.items() if row in golden}
    true_positive, predicted_pairs, actual = pairwise_scores(predicted, result.identities)
    return SeedResult(
        seed=seed,
        customer_refs=len(result.identities),
        customer_rows=len(golden),
        people=len(set(result.identities.values())),
        golden_customers=len(set(golden.values())),
        candidate_pairs=report.stats.candidate_pairs,
        score=PairScore(true_positive, predicted_pairs, actual),
        seconds=round(time.perf_counter() - started, 2),
    )


def evaluate_identity(
    *, seeds: Sequence[int], rate: float, days: float = 1.0, orders_per_day: int = 150
) -> IdentityEvaluation:
    with tempfile.TemporaryDirectory(prefix="orderops-identity-") as folder:
        results = tuple(
            evaluate_seed(
                seed, rate=rate, days=days, orders_per_day=orders_per_day, workdir=Path(folder)
            )
            for seed in seeds
        )
    return IdentityEvaluation(rate, results)
