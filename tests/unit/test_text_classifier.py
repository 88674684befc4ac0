"""Ticket/review topics: the Olist label mapping, the keyword baseline, the learned model."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderops.detect.models.csv_source import read_csv_rows
from orderops.detect.models.keyword_baseline import classify_by_keywords, normalise
from orderops.detect.models.olist import LabelledText, olist_records, olist_texts
from orderops.detect.models.text_classifier import train_text_classifier
from orderops.detect.models.text_evaluation import (
    TextEvaluation,
    evaluate_text_classifier,
    split_texts,
)
from orderops.detect.models.topics import TicketTopic

OLIST = (
    Path(__file__).parents[1]
    / "fixtures"
    / "datasets"
    / "olist_classified"
    / "olist_classified_columns.csv"
)


@pytest.fixture(scope="module")
def olist_rows() -> list[dict[str, str]]:
    return read_csv_rows(OLIST)


@pytest.fixture(scope="module")
def examples(olist_rows: list[dict[str, str]]) -> list[LabelledText]:
    return olist_texts(olist_rows)


@pytest.fixture(scope="module")
def evaluation(examples: list[LabelledText]) -> TextEvaluation:
    return evaluate_text_classifier(examples, test_fraction=0.25, random_state=0)


def _row(subclass: str, message: str = "texto", title: str = "") -> dict[str, str]:
    return {
        "id": "1",
        "most_voted_subclass": subclass,
        "review_comment_title": title,
        "review_comment_message": message,
    }


# --- mapping Olist annotator labels -------------------------------------------------------


@pytest.mark.parametrize(
    ("subclass", "topic"),
    [
        ("atrasado", TicketTopic.LATE),
        ("entrega_parcial", TicketTopic.PARTIAL_DELIVERY),
        ("diferente_do_anunciado", TicketTopic.WRONG_OR_NOT_AS_DESCRIBED),
        ("baixa_qualidade", TicketTopic.QUALITY),
        ("devolucao", TicketTopic.RETURN_OR_REFUND),
        ("antes_prazo", TicketTopic.OTHER),
        ("satisfeito", TicketTopic.OTHER),
        ("outro_entrega", TicketTopic.OTHER),
        ("outro_pedido", TicketTopic.OTHER),
    ],
)
def test_olist_subclasses_map_to_our_topics(subclass: str, topic: TicketTopic) -> None:
    assert [text.topic for text in olist_texts([_row(subclass)])] == [topic]


def test_tied_votes_and_empty_texts_are_dropped() -> None:
    assert olist_texts([_row(""), _row("atrasado", message=" ", title="")]) == []


def test_title_and_message_are_joined() -> None:
    (text,) = olist_texts([_row("atrasado", message="ainda não chegou", title="Atraso")])
    assert text.text == "Atraso ainda não chegou"


def test_the_fixture_holds_every_mapped_topic_with_enough_examples(
    examples: list[LabelledText],
) -> None:
    counts = {topic: sum(1 for e in examples if e.topic is topic) for topic in TicketTopic}
    assert len(examples) > 3000
    present = {topic for topic, count in counts.items() if count >= 100}
    assert present == set(TicketTopic) - {TicketTopic.CANCELLATION, TicketTopic.ADDRESS_CHANGE}


def test_olist_orders_map_to_shipments_with_the_end_of_the_estimated_day_as_promise(
    olist_rows: list[dict[str, str]],
) -> None:
    records = olist_records(olist_rows)
    first = records[0]
    assert len(records) == len(olist_rows)
    assert first.promised_at.isoformat() == "2017-09-22T00:00:00+00:00"
    assert first.lane == "BR->MG"
    assert first.late is False


# --- keyword baseline ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("My parcel is late, where is my order?", TicketTopic.LATE),
        ("O pedido está atrasado e ainda não chegou", TicketTopic.LATE),
        (
            "Only received one of the two items, the charger is missing",
            TicketTopic.PARTIAL_DELIVERY,
        ),
        ("veio faltando uma peça", TicketTopic.PARTIAL_DELIVERY),
        ("Recebi o produto errado, cor diferente", TicketTopic.WRONG_OR_NOT_AS_DESCRIBED),
        ("Die Qualität ist schlecht, kaputt angekommen", TicketTopic.QUALITY),
        ("Quiero la devolución y el reembolso", TicketTopic.RETURN_OR_REFUND),
        ("Please cancel my order", TicketTopic.CANCELLATION),
        ("Je voudrais annuler ma commande", TicketTopic.CANCELLATION),
        ("Can I change my address before it ships?", TicketTopic.ADDRESS_CHANGE),
        ("Muito bom, recomendo", TicketTopic.OTHER),
    ],
)
def test_keyword_baseline_recognises_plain_complaints_in_several_languages(
    text: str, topic: TicketTopic
) -> None:
    assert classify_by_keywords(text) is topic


def test_keywords_match_without_accents_and_case() -> None:
    assert normalise("NÃO Qualität Devolução") == "nao qualitat devolucao"


def test_keywords_match_at_word_starts_only() -> None:
    # "chocolate" contains "late" but is not a complaint about lateness.
    assert classify_by_keywords("adorei o chocolate") is TicketTopic.OTHER


# --- the learned classifier ----------------------------------------------------------------


def test_split_is_disjoint_and_stratified(examples: list[LabelledText]) -> None:
    train, test = split_texts(examples, test_fraction=0.25, random_state=0)
    assert {e.source_id for e in train}.isdisjoint({e.source_id for e in test})
    assert len(train) + len(test) == len(examples)
    for topic in {e.topic for e in examples}:
        share_all = sum(e.topic is topic for e in examples) / len(examples)
        share_test = sum(e.topic is topic for e in test) / len(test)
        assert share_test == pytest.approx(share_all, abs=0.01)


def test_the_model_beats_the_keyword_baseline_by_a_tenth_of_macro_f1(
    evaluation: TextEvaluation,
) -> None:
    assert evaluation.test_size > 800
    assert evaluation.margin >= 0.1
    assert evaluation.model_macro_f1 == pytest.approx(
        sum(s.model_f1 for s in evaluation.per_topic) / len(evaluation.per_topic)
    )


def test_the_model_scores_every_held_out_topic_above_zero(evaluation: TextEvaluation) -> None:
    assert {score.topic for score in evaluation.per_topic} == {
        TicketTopic.LATE,
        TicketTopic.PARTIAL_DELIVERY,
        TicketTopic.WRONG_OR_NOT_AS_DESCRIBED,
        TicketTopic.QUALITY,
        TicketTopic.RETURN_OR_REFUND,
        TicketTopic.OTHER,
    }
    assert all(score.model_f1 > 0.3 for score in evaluation.per_topic)


def test_evaluation_is_deterministic(
    examples: list[LabelledText], evaluation: TextEvaluation
) -> None:
    assert evaluate_text_classifier(examples, test_fraction=0.25, random_state=0) == evaluation


def test_the_classifier_predicts_only_topics_it_was_trained_on() -> None:
    texts = [
        "chegou atrasado",
        "atraso na entrega",
        "demorou demais",
        "produto ótimo",
        "muito bom",
        "adorei",
    ]
    topics = [TicketTopic.LATE] * 3 + [TicketTopic.OTHER] * 3
    model = train_text_classifier(texts, topics)
    assert set(model.topics) == {TicketTopic.LATE, TicketTopic.OTHER}
    assert model.predict("a entrega atrasou e demorou") is TicketTopic.LATE
    assert model.predict("adorei, muito bom") is TicketTopic.OTHER
