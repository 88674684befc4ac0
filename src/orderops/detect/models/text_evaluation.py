"""Held-out comparison of the learned text classifier with the keyword baseline.

Both are scored on the same stratified split in the same call, with macro-F1 over
the topics present in the held-out labels: every topic counts equally, so a model
that only learns "other" scores badly however common "other" is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from orderops.detect.models.keyword_baseline import classify_by_keywords
from orderops.detect.models.olist import LabelledText
from orderops.detect.models.text_classifier import TextClassifierParams, train_text_classifier
from orderops.detect.models.topics import TicketTopic


@dataclass(frozen=True)
class TopicScore:
    topic: TicketTopic
    support: int
    model_f1: float
    baseline_f1: float


@dataclass(frozen=True)
class TextEvaluation:
    train_size: int
    test_size: int
    model_macro_f1: float
    baseline_macro_f1: float
    per_topic: tuple[TopicScore, ...]

    @property
    def margin(self) -> float:
        return self.model_macro_f1 - self.baseline_macro_f1


def split_texts(
    examples: Sequence[LabelledText], *, test_fraction: float, random_state: int
) -> tuple[list[LabelledText], list[LabelledText]]:
    """Stratified, seeded split: the same examples always land on the same side."""
    train, test = train_test_split(
        list(examples),
        test_size=test_fraction,
        random_state=random_state,
        stratify=[example.topic for example in examples],
    )
    return list(train), list(test)


def evaluate_text_classifier(
    examples: Sequence[LabelledText],
    *,
    test_fraction: float = 0.25,
    random_state: int = 0,
    params: TextClassifierParams | None = None,
) -> TextEvaluation:
    train, test = split_texts(examples, test_fraction=test_fraction, random_state=random_state)
    model = train_text_classifier(
        [example.text for example in train],
        [example.topic for example in train],
        params=params or TextClassifierParams(random_state=random_state),
    )
    truth = [str(example.topic) for example in test]
    model_guess = [str(topic) for topic in model.predict_many([e.text for e in test])]
    baseline_guess = [str(classify_by_keywords(example.text)) for example in test]
    labels = sorted(set(truth))
    model_f1 = f1_score(truth, model_guess, labels=labels, average=None, zero_division=0)
    baseline_f1 = f1_score(truth, baseline_guess, labels=labels, average=None, zero_division=0)
    per_topic = tuple(
        TopicScore(
            topic=TicketTopic(label),
            support=truth.count(label),
            model_f1=float(model_f1[index]),
            baseline_f1=float(baseline_f1[index]),
        )
        for index, label in enumerate(labels)
    )
    return TextEvaluation(
        train_size=len(train),
        test_size=len(test),
        model_macro_f1=float(model_f1.mean()),
        baseline_macro_f1=float(baseline_f1.mean()),
        per_topic=per_topic,
    )
