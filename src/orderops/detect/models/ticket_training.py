"""Training data for the ticket classifier, the shipped default, and its evaluation.

Two sources, kept apart because their licences differ:

- ``shipped/ticket_seed.jsonl``: short support-ticket texts written for this project
  in English, Spanish, Portuguese and German, every class in every language; licensed
  with the project (Apache-2.0). The shipped model (``shipped/ticket_class.skops``) is
  trained on it alone, so the package carries nothing derived from non-commercial data.
- The Olist classified reviews (``tests/fixtures/datasets``, CC BY-NC-SA 4.0): real
  customer text with annotator votes, used only to evaluate (and, inside the
  evaluation, to train the model it scores on its held-out split). Never shipped.

``evaluate_ticket_classifier`` scores, on the same stratified held-out split of the
Olist reviews mapped to ticket classes (``topics.TOPIC_CLASSES``): the keyword
baseline, a model trained on the Olist training split plus the seed (what a tenant
gets once it trains on its own history), and the shipped seed-only model. Macro-F1 is
over the classes present in the held-out labels (Olist has no cancellation or address
requests), on the raw top class: the confidence floor is a product choice, scored apart
as the share of texts it sends to ``other`` (``floored``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sklearn.metrics import f1_score

from orderops.detect.models.delay_model import TrainingDataError
from orderops.detect.models.keyword_baseline import classify_by_keywords
from orderops.detect.models.olist import LabelledText
from orderops.detect.models.text_evaluation import split_texts
from orderops.detect.models.ticket_classifier import (
    TicketClassifier,
    TicketClassifierParams,
    train_ticket_classifier,
)
from orderops.detect.models.topics import ticket_class_of
from orderops.domain.ticket_classes import TicketClass

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
SEED_PATH = SHIPPED_DIR / "ticket_seed.jsonl"
SHIPPED_MODEL_PATH = SHIPPED_DIR / "ticket_class.skops"
SEED_SOURCE = "orderops ticket seed (shipped/ticket_seed.jsonl: en, es, pt, de)"
SEED_LICENCE = "Apache-2.0 (written for this project)"


@dataclass(frozen=True)
class LabelledTicket:
    text: str
    ticket_class: TicketClass
    language: str = ""


def read_seed(path: Path = SEED_PATH) -> list[LabelledTicket]:
    """The seed texts; a malformed line is a ``TrainingDataError`` naming the line."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            examples.append(
                LabelledTicket(
                    text=str(row["text"]),
                    ticket_class=TicketClass(row["class"]),
                    language=str(row.get("lang", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TrainingDataError(f"{path}:{number}: {exc}") from exc
    return examples


def train_shipped(seed: Sequence[LabelledTicket] | None = None) -> TicketClassifier:
    """The default every tenant gets: the seed alone (reproducible: same seed, same file)."""
    examples = list(seed) if seed is not None else read_seed()
    return train_ticket_classifier(
        [e.text for e in examples],
        [e.ticket_class for e in examples],
        trained_on=SEED_SOURCE,
        licence=SEED_LICENCE,
    )


def olist_tickets(texts: Sequence[LabelledText]) -> list[LabelledTicket]:
    return [
        LabelledTicket(text=t.text, ticket_class=ticket_class_of(t.topic), language="pt")
        for t in texts
    ]


@dataclass(frozen=True)
class ClassScore:
    ticket_class: TicketClass
    support: int
    model_f1: float
    shipped_f1: float
    baseline_f1: float


@dataclass(frozen=True)
class TicketEvaluation:
    train_size: int
    seed_size: int
    test_size: int
    model_macro_f1: float
    """Trained on the Olist training split plus the seed."""
    shipped_macro_f1: float
    """The shipped seed-only model, never shown an Olist review."""
    baseline_macro_f1: float
    model_floored: float
    """Share of held-out texts the confidence floor turns into ``other``."""
    shipped_version: str
    per_class: tuple[ClassScore, ...]

    @property
    def margin(self) -> float:
        return self.model_macro_f1 - self.baseline_macro_f1


def _f1(truth: list[str], guess: list[str], labels: list[str]) -> list[float]:
    scores = f1_score(truth, guess, labels=labels, average=None, zero_division=0)
    return [float(s) for s in scores]


def evaluate_ticket_classifier(
    reviews: Sequence[LabelledText],
    *,
    seed: Sequence[LabelledTicket] | None = None,
    shipped: TicketClassifier | None = None,
    test_fraction: float = 0.25,
    random_state: int = 0,
    params: TicketClassifierParams | None = None,
) -> TicketEvaluation:
    """Keyword baseline, Olist+seed model and shipped model on one held-out split."""
    seed = list(seed) if seed is not None else read_seed()
    shipped = shipped or train_shipped(seed)
    train_reviews, test_reviews = split_texts(
        reviews, test_fraction=test_fraction, random_state=random_state
    )
    train = olist_tickets(train_reviews) + seed
    model = train_ticket_classifier(
        [e.text for e in train],
        [e.ticket_class for e in train],
        trained_on="olist training split + seed (evaluation only)",
        licence="CC BY-NC-SA 4.0 (not shipped)",
        params=params,
    )
    test = olist_tickets(test_reviews)
    texts = [e.text for e in test]
    truth = [str(e.ticket_class) for e in test]
    model_verdicts = model.classify_many(texts)
    model_guess = [str(v.raw_class) for v in model_verdicts]
    shipped_guess = [str(v.raw_class) for v in shipped.classify_many(texts)]
    baseline_guess = [str(ticket_class_of(classify_by_keywords(t))) for t in texts]
    labels = sorted(set(truth))
    model_f1 = _f1(truth, model_guess, labels)
    shipped_f1 = _f1(truth, shipped_guess, labels)
    baseline_f1 = _f1(truth, baseline_guess, labels)
    floored = sum(
        1 for v in model_verdicts if v.ticket_class is TicketClass.OTHER and v.raw_class != "other"
    )
    return TicketEvaluation(
        train_size=len(train_reviews),
        seed_size=len(seed),
        test_size=len(test),
        model_macro_f1=sum(model_f1) / len(labels),
        shipped_macro_f1=sum(shipped_f1) / len(labels),
        baseline_macro_f1=sum(baseline_f1) / len(labels),
        model_floored=floored / len(test) if test else 0.0,
        shipped_version=shipped.card.version,
        per_class=tuple(
            ClassScore(
                ticket_class=TicketClass(label),
                support=truth.count(label),
                model_f1=model_f1[i],
                shipped_f1=shipped_f1[i],
                baseline_f1=baseline_f1[i],
            )
            for i, label in enumerate(labels)
        ),
    )
