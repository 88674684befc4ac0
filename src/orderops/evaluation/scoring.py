"""Scoring what the desk did against what was truly wrong, per exception type.

The counting rules, each one a choice a reader of the figures must know:

- Every case the desk ever opened counts, whatever became of it. A case that opened and
  was resolved automatically a minute later still put noise in a reviewer's queue (or
  would have, with a slower clear), so it is a false positive when no label names it.
- Cases and labels meet on (type, order ref). One pair is one case however often it
  reopened or merged signals, and one label however often the history repeated it.
- A case with no label of its type on its order is a false positive; a label with no
  case of its type on its order is a false negative.
- Lead time is ``label.at - case.opened_at``: positive when the desk saw the exception
  before the moment the written rule says it became true, negative when it was late.
- Precision with no case and recall with no label are undefined (shown as "-"), and an
  undefined figure does not miss its aim: a type the store never produced and the desk
  never raised has nothing to measure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from orderops.evaluation.history import Label

AIM_PRECISION = 0.95
AIM_RECALL = 0.95
AIM_LINK_PASSES = 1
"""A record that arrived before its order should be linked within one worker pass of the
order's arrival."""
RESOLVED = "resolved"


@dataclass(frozen=True)
class OpenedCase:
    """A case row as the desk kept it (any status)."""

    exception_type: str
    order_ref: str
    opened_at: datetime
    status: str


@dataclass(frozen=True)
class TypeScore:
    exception_type: str
    labels: int
    cases: int
    true_positives: int
    false_positives: int
    false_negatives: int
    false_positives_resolved: int
    """False positives already resolved automatically by the end (noise that cleared)."""
    leads_hours: tuple[float, ...]

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.cases if self.cases else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.labels if self.labels else None

    @property
    def median_lead_hours(self) -> float | None:
        return median(self.leads_hours) if self.leads_hours else None

    @property
    def precision_met(self) -> bool:
        return self.precision is None or self.precision >= AIM_PRECISION

    @property
    def recall_met(self) -> bool:
        return self.recall is None or self.recall >= AIM_RECALL

    @property
    def meets_aims(self) -> bool:
        return self.precision_met and self.recall_met

    def to_json(self) -> dict[str, Any]:
        lead = self.median_lead_hours
        return {
            "type": self.exception_type,
            "labels": self.labels,
            "cases": self.cases,
            "tp": self.true_positives,
            "fp": self.false_positives,
            "fn": self.false_negatives,
            "fp_auto_resolved": self.false_positives_resolved,
            "precision": _rounded(self.precision),
            "recall": _rounded(self.recall),
            "median_lead_hours": None if lead is None else round(lead, 2),
            "aims": {"precision": AIM_PRECISION, "recall": AIM_RECALL},
            "meets_aims": self.meets_aims,
        }


def score_cases(labels: Iterable[Label], cases: Iterable[OpenedCase]) -> dict[str, TypeScore]:
    """Per type, every case ever opened against every label (rules in the module docstring)."""
    wanted: dict[tuple[str, str], datetime] = {}
    for label in labels:
        key = (label.type, label.order_ref)
        wanted[key] = min(label.at, wanted.get(key, label.at))
    opened: dict[tuple[str, str], OpenedCase] = {}
    for case in cases:
        key = (case.exception_type, case.order_ref)
        earlier = opened.get(key)
        if earlier is None or case.opened_at < earlier.opened_at:
            opened[key] = case
    scores: dict[str, TypeScore] = {}
    for kind in sorted({k for k, _ in wanted} | {k for k, _ in opened}):
        mine = {key: at for key, at in wanted.items() if key[0] == kind}
        raised = {key: case for key, case in opened.items() if key[0] == kind}
        hits = mine.keys() & raised.keys()
        noise = [raised[key] for key in raised.keys() - mine.keys()]
        leads = sorted(_hours(mine[key] - raised[key].opened_at) for key in hits)
        scores[kind] = TypeScore(
            exception_type=kind,
            labels=len(mine),
            cases=len(raised),
            true_positives=len(hits),
            false_positives=len(noise),
            false_negatives=len(mine.keys() - raised.keys()),
            false_positives_resolved=sum(case.status == RESOLVED for case in noise),
            leads_hours=tuple(leads),
        )
    return scores


@dataclass(frozen=True)
class EarlyRecord:
    """A record (payment, ticket, ...) that reached the desk before the order it names."""

    record: str
    order_ref: str
    order_arrived_at: datetime
    linked_at: datetime


@dataclass(frozen=True)
class LinkLatency:
    records: int
    within_aim: int
    passes: tuple[int, ...]
    """Worker passes between each record's order arriving and the record's link."""

    @property
    def max_passes(self) -> int | None:
        return max(self.passes) if self.passes else None

    @property
    def meets_aim(self) -> bool:
        return self.within_aim == self.records

    def to_json(self) -> dict[str, Any]:
        return {
            "records_before_their_order": self.records,
            "linked_within_one_pass": self.within_aim,
            "max_passes": self.max_passes,
            "median_passes": median(self.passes) if self.passes else None,
            "aim_passes": AIM_LINK_PASSES,
            "meets_aim": self.meets_aim,
        }


def passes_between(passes: Sequence[datetime], start: datetime, end: datetime) -> int:
    """Worker passes run after ``start`` and no later than ``end``.

    A link made by the very request that brought the order in (``end == start``) took no
    pass; one made by the first pass after it took one.
    """
    return sum(start < at <= end for at in passes)


def link_latency(records: Iterable[EarlyRecord], passes: Sequence[datetime]) -> LinkLatency:
    counts = tuple(
        passes_between(passes, r.order_arrived_at, r.linked_at)
        for r in sorted(records, key=lambda r: (r.linked_at, r.record))
    )
    return LinkLatency(
        records=len(counts),
        within_aim=sum(c <= AIM_LINK_PASSES for c in counts),
        passes=counts,
    )


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
