"""The dashboards' figures as bars that remember their cases. Pure: no I/O.

Every bar carries the ids of the cases it counts, so the drill-down page lists exactly
what the bar shows and the chart, its CSV and its drill-down cannot disagree.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orderops.domain.cases import CLOSED_STATUSES

TOP = 8
BACKLOG_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("under 4 h", timedelta(hours=4)),
    ("4-24 h", timedelta(hours=24)),
    ("1-3 days", timedelta(days=3)),
    ("3-7 days", timedelta(days=7)),
    ("over 7 days", timedelta.max),
)
"""Backlog age buckets, each up to (not including) its bound."""


@dataclass(frozen=True)
class CaseFact:
    id: str
    exception_type: str
    queue: str | None
    status: str
    opened_at: datetime
    closed_at: datetime | None
    order_id: str
    priority: str = "P3"

    @property
    def closed(self) -> bool:
        return self.closed_at is not None and self.status in {str(s) for s in CLOSED_STATUSES}


@dataclass(frozen=True)
class Bar:
    key: str
    value: float
    cases: tuple[str, ...]
    """The ids of the cases behind the bar, sorted: what its drill-down lists."""
    note: str = ""
    """Extra text beside the value (money at stake, ``12 of 15``)."""


@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    unit: str
    """What a value counts: ``cases``, ``hours``, ``%``, ``payments``, ``customers``."""
    bars: list[Bar] = field(default_factory=list)

    def bar(self, key: str) -> Bar | None:
        return next((b for b in self.bars if b.key == key), None)

    @property
    def empty(self) -> bool:
        return not any(b.value for b in self.bars)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(key, case id) pairs -> key -> sorted distinct case ids."""
    groups: dict[str, set[str]] = defaultdict(set)
    for key, case_id in pairs:
        groups[key].add(case_id)
    return {k: sorted(v) for k, v in groups.items()}


def count_bars(groups: Mapping[str, Sequence[str]], n: int | None = TOP) -> list[Bar]:
    """One bar per key counting its cases, most first (ties by key), the top ``n``."""
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [Bar(k, float(len(ids)), tuple(ids)) for k, ids in ordered[:n]]


def by_day(cases: Iterable[CaseFact], days: Sequence[str]) -> list[Bar]:
    """Cases opened per day, every day of the range (a quiet day is a zero bar)."""
    groups = grouped((c.opened_at.date().isoformat(), c.id) for c in cases)
    return [Bar(d, float(len(groups.get(d, []))), tuple(groups.get(d, []))) for d in days]


def resolve_hours(cases: Iterable[CaseFact], key: str) -> list[tuple[Bar, float]]:
    """(bar of median hours to resolve with its closed cases, p90 hours) per group."""
    hours: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for case in cases:
        if case.closed and case.closed_at is not None:
            group = getattr(case, key) or "(none)"
            spent = (case.closed_at - case.opened_at).total_seconds() / 3600
            hours[group].append((spent, case.id))
    rows = [
        (
            Bar(g, percentile([h for h, _ in v], 50), tuple(sorted(i for _, i in v))),
            percentile([h for h, _ in v], 90),
        )
        for g, v in hours.items()
    ]
    return sorted(rows, key=lambda row: (-len(row[0].cases), row[0].key))


def sla_attainment(cases: Iterable[CaseFact], breached: set[str]) -> list[Bar]:
    """Per priority, the share of judged cases that met their SLA. A case is judged once
    it breached (a timer fired) or closed without breaching; an open case still inside
    its SLA is not judged yet."""
    met: dict[str, list[str]] = defaultdict(list)
    judged: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        if case.id in breached:
            judged[case.priority].append(case.id)
        elif case.closed:
            judged[case.priority].append(case.id)
            met[case.priority].append(case.id)
    return [
        Bar(
            p,
            100.0 * len(met[p]) / len(ids),
            tuple(sorted(ids)),
            note=f"{len(met[p])} of {len(ids)} met",
        )
        for p, ids in sorted(judged.items())
    ]


def backlog_age(open_cases: Iterable[tuple[str, datetime]], now: datetime) -> list[Bar]:
    """Open cases by age now, youngest bucket first; every bucket shown."""
    groups: dict[str, list[str]] = defaultdict(list)
    for case_id, opened_at in open_cases:
        age = now - opened_at
        label = next(name for name, bound in BACKLOG_BUCKETS if age < bound)
        groups[label].append(case_id)
    return [
        Bar(name, float(len(groups[name])), tuple(sorted(groups[name])))
        for name, _ in BACKLOG_BUCKETS
    ]


def hours_text(hours: float) -> str:
    """A duration a person reads at a glance: minutes under an hour, days past two."""
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def value_text(value: float, unit: str) -> str:
    if unit == "hours":
        return hours_text(value)
    if unit == "%":
        return f"{value:.0f}%"
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.1f}"
