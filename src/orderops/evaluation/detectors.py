"""Measuring every detector against the simulator's ground truth, through the real pipeline.

Each run simulates a store, then replays it into a fresh SQLite database the way a
live desk would see it: the clock steps through the window (hourly by default), each
step ingests the events whose time has come and runs the sweep. So ``opened_at`` is
when a live desk would have opened the case, and the lead time ``label - opened_at``
is meaningful (negative: the case came after the moment the rule names, positive: a
prediction came before it).

Cases are matched to labels on (type, order ref). Precision and recall are per type
over all runs; lead times are over matched pairs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from statistics import median
from typing import Any

from orderops.domain.cases import ExceptionType
from orderops.sim import Label, SimConfig, simulate

AIM_PRECISION = 0.95
AIM_RECALL = 0.95
MODEL_TYPES = frozenset({ExceptionType.SHIPMENT_DELAY_PREDICTED})

RATE_PRESETS: dict[str, float] = {"low": 0.02, "high": 0.06}
"""Injection rate per type; ``integration_silence`` uses the chance of an outage per run."""
SILENCE_CHANCE = {"low": 0.5, "high": 1.0}


@dataclass(frozen=True)
class OpenedCase:
    exception_type: str
    order_ref: str
    opened_at: datetime
    detected_at: datetime


@dataclass
class TypeScore:
    exception_type: str
    labels: int = 0
    cases: int = 0
    matched: int = 0
    leads_hours: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched / self.cases if self.cases else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.labels if self.labels else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def median_lead_hours(self) -> float | None:
        return median(self.leads_hours) if self.leads_hours else None

    def meets_aims(self) -> bool:
        return self.precision >= AIM_PRECISION and self.recall >= AIM_RECALL

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.exception_type,
            "labels": self.labels,
            "cases": self.cases,
            "matched": self.matched,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "median_lead_hours": None
            if self.median_lead_hours is None
            else round(self.median_lead_hours, 2),
        }


def score(labels: Iterable[Label], cases: Iterable[OpenedCase], into: dict[str, TypeScore]) -> None:
    """Add one run's labels and cases to the per-type tallies in ``into``."""
    wanted = {(str(label.type), label.order_ref): label.at for label in labels}
    opened = {(c.exception_type, c.order_ref): c for c in cases}
    for kind, _ in wanted.keys() | opened.keys():
        into.setdefault(kind, TypeScore(kind))
    for key, at in wanted.items():
        into[key[0]].labels += 1
        if (case := opened.get(key)) is not None:
            into[key[0]].matched += 1
            into[key[0]].leads_hours.append((at - case.opened_at).total_seconds() / 3600)
    for key in opened:
        into[key[0]].cases += 1


def config_for(seed: int, rate: str, *, orders_per_day: int, days: float) -> SimConfig:
    per_type = RATE_PRESETS[rate]
    rates = {
        t.value: per_type
        for t in ExceptionType
        if t not in (ExceptionType.PAYMENT_FAILED, ExceptionType.SHIPMENT_LATE)
    }
    rates[ExceptionType.INTEGRATION_SILENCE.value] = SILENCE_CHANCE[rate]
    return SimConfig(
        seed=seed,
        days=days,
        orders_per_day=orders_per_day,
        tenant="eval",
        payment_failed_rate=per_type * 2,
        late_rate=per_type * 2,
        rates=rates,
    )


def training_config(config: SimConfig) -> SimConfig:
    """The delay model's history: another seed of the same dates, more late parcels."""
    return replace(
        config,
        seed=config.seed + 10_000,
        rates={},
        late_rate=0.12,
        orders_per_day=100,
        history_days=config.history_days + 28,
    )


def replay(
    config: SimConfig,
    *,
    workdir: Path,
    step: timedelta,
    scorer: Any = None,
) -> tuple[list[Label], list[OpenedCase]]:
    """Simulate, ingest step by step with sweeps, and return the labels and opened cases."""
    from orderops.bootstrap import bootstrap
    from orderops.config import Settings
    from orderops.detect.registry import build_detectors
    from orderops.domain.clock import FixedClock
    from orderops.storage.repositories.cases import CaseFilter
    from orderops.storage.uow import UnitOfWork
    from orderops.tenancy.tenants import ensure_tenant
    from orderops.workflow.batch import ingest_items
    from orderops.workflow.sweeps import sweep

    result = simulate(config)
    database = workdir / f"eval-{config.seed}-{abs(hash(tuple(config.rates.items())))}.db"
    database.unlink(missing_ok=True)
    clock = FixedClock(config.history_start)
    settings = Settings(database_url=f"sqlite:///{database}", data_dir=workdir, demo_mode=True)
    app = bootstrap(settings, clock=clock)
    detectors = build_detectors(delay_scorer=scorer)
    try:
        ensure_tenant(app.sessions, tenant_id=config.tenant, name="Evaluation", clock=clock)
        events = result.events
        index, at = 0, config.history_start
        while at < config.end:
            at = min(at + step, config.end)
            start = index
            while index < len(events) and datetime.fromisoformat(events[index]["time"]) <= at:
                index += 1
            clock.set(at)
            ingest_items(
                app.sessions,
                tenant_id=config.tenant,
                items=events[start:index],
                channel="eval",
                clock=clock,
            )
            sweep(app.sessions, tenant_id=config.tenant, clock=clock, detectors=detectors)
        with UnitOfWork(app.sessions, tenant_id=config.tenant, write=False) as uow:
            page = uow.cases.search(CaseFilter(), limit=1_000_000, offset=0)
            cases = [
                OpenedCase(c.exception_type, c.order_ref, c.opened_at, c.detected_at)
                for c in page.items
            ]
    finally:
        app.close()
    return result.labels, cases


@dataclass
class SimEvaluation:
    seeds: Sequence[int]
    rates: Sequence[str]
    per_rate: dict[str, dict[str, TypeScore]]

    def to_json(self) -> dict[str, Any]:
        return {
            "seeds": list(self.seeds),
            "rates": {name: RATE_PRESETS[name] for name in self.rates},
            "aims": {"precision": AIM_PRECISION, "recall": AIM_RECALL},
            "per_rate": {
                rate: [s.to_json() for _, s in sorted(scores.items())]
                for rate, scores in self.per_rate.items()
            },
        }


def evaluate_detectors(
    *,
    seeds: Sequence[int],
    rates: Sequence[str],
    orders_per_day: int = 40,
    days: float = 1.0,
    step: timedelta = timedelta(hours=1),
    models_dir: Path | None = None,
    workdir: Path | None = None,
) -> SimEvaluation:
    from orderops.detect.model_store import ensure_scorer

    per_rate: dict[str, dict[str, TypeScore]] = {}
    with tempfile.TemporaryDirectory(prefix="orderops-eval-") as scratch:
        root = workdir or Path(scratch)
        for rate in rates:
            scores: dict[str, TypeScore] = {}
            for seed in seeds:
                config = config_for(seed, rate, orders_per_day=orders_per_day, days=days)
                training = training_config(config)
                scorer = ensure_scorer(
                    (models_dir or root / "models") / f"sim-{training.seed}",
                    history=partial(_history, training),
                )
                labels, cases = replay(config, workdir=root, step=step, scorer=scorer)
                score(labels, cases, scores)
            per_rate[rate] = scores
    return SimEvaluation(seeds=seeds, rates=rates, per_rate=per_rate)


def _history(config: SimConfig) -> list[Any]:
    from orderops.sim.history import shipment_records

    return list(shipment_records(simulate(config).events))
