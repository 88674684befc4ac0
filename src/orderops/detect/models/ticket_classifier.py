"""The support-ticket classifier: a ticket's text -> a ``TicketClass`` with a confidence.

The same features as the review-topic classifier (``text_classifier.py``): character
n-grams within word boundaries, TF-IDF weighted, accents stripped, so one model reads
English, Spanish, Portuguese and German tickets, typos included, with no tokenizer or
stop-word list for any language. The linear model is a logistic regression rather than
the topic classifier's SVM because the desk needs a probability: a verdict below its
floor becomes ``other`` (``domain.ticket_classes.settle``).

Stored with skops, never pickle: skops rebuilds objects from a schema and only from
types it trusts (scikit-learn's estimators, numpy, builtins); any other type the file
names must be in ``TRUSTED_TYPES`` or the file is refused, so a model file cannot run
code when it is read. The pipeline's shape and classes are then checked.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from orderops.detect.models.char_ngrams import char_ngram_tfidf
from orderops.detect.models.delay_model import ModelFileError, TrainingDataError
from orderops.domain.ticket_classes import (
    ACTIONABLE_MIN_CONFIDENCE,
    DEFAULT_MIN_CONFIDENCE,
    TicketClass,
    TicketVerdict,
    settle,
)

FORMAT = "orderops.ticket_classifier/1"
TEXT_LIMIT = 4_000
"""Characters of subject + body read: the ask is at the start; a pasted thread is not."""

TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.str",
        "builtins.tuple",
        "numpy.dtype",
        "numpy.float64",
        "numpy.int64",
        "numpy.ndarray",
        "scipy.sparse._csr.csr_matrix",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.feature_extraction.text.TfidfVectorizer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.pipeline.Pipeline",
    }
)
"""Types beyond skops' own trusted set a ticket-classifier file may name."""


@dataclass(frozen=True)
class TicketClassifierParams:
    min_n: int = 2
    max_n: int = 5
    min_df: int = 1
    c: float = 10.0
    max_iter: int = 2_000


@dataclass(frozen=True)
class ModelCard:
    """What the file says about itself: shown by the eval command and stored per verdict."""

    version: str
    trained_on: str
    licence: str
    examples: int


def ticket_text(subject: str | None, body: str | None) -> str:
    """The text a ticket is judged on: subject, then body, capped at ``TEXT_LIMIT``."""
    parts = [p.strip() for p in (subject, body) if p and p.strip()]
    return "\n".join(parts)[:TEXT_LIMIT]


class TicketClassifier:
    """A fitted pipeline and its card; answers verdicts with the confidence floors."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        card: ModelCard,
        min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        actionable_min_confidence: float = ACTIONABLE_MIN_CONFIDENCE,
    ) -> None:
        self._pipeline = pipeline
        self.card = card
        self.min_confidence = min_confidence
        self.actionable_min_confidence = actionable_min_confidence

    @property
    def classes(self) -> tuple[TicketClass, ...]:
        return tuple(TicketClass(label) for label in self._pipeline.classes_)

    def classify(self, text: str) -> TicketVerdict:
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[TicketVerdict]:
        """One verdict per text; an empty text is ``other`` with confidence 0."""
        verdicts: list[TicketVerdict] = []
        readable = [(i, t[:TEXT_LIMIT]) for i, t in enumerate(texts) if t and t.strip()]
        probabilities = self._pipeline.predict_proba([t for _, t in readable]) if readable else []
        by_index = dict(zip((i for i, _ in readable), probabilities, strict=True))
        for index in range(len(texts)):
            row = by_index.get(index)
            if row is None:
                verdicts.append(
                    TicketVerdict(
                        ticket_class=TicketClass.OTHER,
                        confidence=0.0,
                        model=self.card.version,
                        raw_class=TicketClass.OTHER,
                    )
                )
                continue
            best = int(row.argmax())
            verdicts.append(
                settle(
                    self.classes[best],
                    float(row[best]),
                    model=self.card.version,
                    min_confidence=self.min_confidence,
                    actionable_min_confidence=self.actionable_min_confidence,
                )
            )
        return verdicts

    def to_bytes(self) -> bytes:
        """The model as skops (no pickle): what the registry stores."""
        import skops.io as sio

        return bytes(
            sio.dumps(
                {
                    "format": FORMAT,
                    "pipeline": self._pipeline,
                    "version": self.card.version,
                    "trained_on": self.card.trained_on,
                    "licence": self.card.licence,
                    "examples": str(self.card.examples),
                },
                compression=zipfile.ZIP_DEFLATED,
                compresslevel=9,
            )
        )

    def save(self, path: Path) -> None:
        """Write the model as skops, creating the folder."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())


def load_ticket_classifier(path: Path) -> TicketClassifier:
    """Read a file ``save`` wrote (see ``ticket_classifier_from_bytes``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read ticket classifier {path}: {exc}") from exc
    return ticket_classifier_from_bytes(data, origin=str(path))


def ticket_classifier_from_bytes(data: bytes, *, origin: str) -> TicketClassifier:
    """Read what ``to_bytes`` wrote; refuse one naming any type outside ``TRUSTED_TYPES``."""
    import skops.io as sio

    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except (ValueError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"cannot read ticket classifier {origin}: {exc}") from exc
    strange = untrusted - TRUSTED_TYPES
    if strange:
        raise ModelFileError(
            f"ticket classifier {origin} names types that are not allowed: {sorted(strange)}"
        )
    content: Any = sio.loads(data, trusted=sorted(untrusted))
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ModelFileError(f"{origin} is not a ticket classifier ({FORMAT})")
    pipeline = content["pipeline"]
    if not isinstance(pipeline, Pipeline):
        raise ModelFileError(f"{origin} holds no pipeline")
    unknown = {str(c) for c in pipeline.classes_} - {str(c) for c in TicketClass}
    if unknown:
        raise ModelFileError(f"{origin} predicts unknown classes {sorted(unknown)}")
    card = ModelCard(
        version=str(content["version"]),
        trained_on=str(content["trained_on"]),
        licence=str(content["licence"]),
        examples=int(content["examples"]),
    )
    return TicketClassifier(pipeline=pipeline, card=card)


def train_ticket_classifier(
    texts: Sequence[str],
    classes: Sequence[TicketClass],
    *,
    trained_on: str,
    licence: str,
    params: TicketClassifierParams | None = None,
) -> TicketClassifier:
    """Fit on labelled texts; the version is a digest of the data and parameters, so
    the same data always makes the same version name."""
    params = params or TicketClassifierParams()
    if len(texts) != len(classes):
        raise TrainingDataError("texts and classes differ in length")
    if len(set(classes)) < 2:
        raise TrainingDataError("training needs at least two classes")
    pipeline = Pipeline(
        [
            (
                "tfidf",
                char_ngram_tfidf(min_n=params.min_n, max_n=params.max_n, min_df=params.min_df),
            ),
            (
                "linear",
                LogisticRegression(C=params.c, class_weight="balanced", max_iter=params.max_iter),
            ),
        ]
    )
    labels = [str(c) for c in classes]
    pipeline.fit([t[:TEXT_LIMIT] for t in texts], labels)
    digest = hashlib.sha256()
    for text, label in zip(texts, labels, strict=True):
        digest.update(f"{label}\t{text}\n".encode())
    digest.update(repr(params).encode())
    card = ModelCard(
        version=f"ticket-class-{digest.hexdigest()[:12]}",
        trained_on=trained_on,
        licence=licence,
        examples=len(texts),
    )
    return TicketClassifier(pipeline=pipeline, card=card)
