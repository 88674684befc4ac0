"""The similar-case index is incremental: cases joining one at a time, leaving and taking
new outcomes give the same neighbours, with the same scores, as TF-IDF fitted on the
cases it holds at that moment (``TfidfVectorizer``, the index it replaced)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from builders.similar_corpus import DenseReferenceIndex, feature_similarity
from orderops.recommend.history import ERASED_MARK
from orderops.recommend.similar import ResolvedCase, SimilarCaseIndex
from orderops.workflow.personal_data import ERASED

WORDS = ("late parcel lost UPS FedEx DHL hoodie mug tee refund damaged wrong address vip").split()  # noqa: SIM905
TYPES = ("shipment_late", "carrier_exception")


def _cases(n: int, seed: int = 3) -> list[ResolvedCase]:
    rng = random.Random(seed)
    return [
        ResolvedCase(
            case_id=f"c{i:03d}",
            exception_type=rng.choice(TYPES),
            summary=" ".join(rng.sample(WORDS, rng.randint(2, 7))),
            features={"days_late": float(rng.randint(0, 6)), "vip": float(rng.random() < 0.3)},
            resolution=rng.choice(("reship", "refund")),
        )
        for i in range(n)
    ]


QUERIES = [
    ("shipment_late", "parcel lost UPS hoodie", {"days_late": 3.0}),
    ("carrier_exception", "damaged mug refund", {"days_late": 1.0, "vip": 1.0}),
    ("shipment_late", "wrong address", {}),
    ("shipment_late", "words no case has", {"days_late": 2.0}),
]


def _same_answers(index: SimilarCaseIndex, reference: DenseReferenceIndex) -> None:
    for kind, summary, features in QUERIES:
        got = index.nearest(exception_type=kind, summary=summary, features=features, k=5)
        want = reference.nearest(exception_type=kind, summary=summary, features=features, k=5)
        assert [n.case.case_id for n in got] == [n.case.case_id for n in want]
        assert [n.similarity for n in got] == pytest.approx([n.similarity for n in want], abs=1e-4)


def test_cases_joining_one_at_a_time_score_as_tfidf_fitted_on_all_of_them() -> None:
    cases = _cases(60)
    index = SimilarCaseIndex()
    for case in cases:
        index.add([case])
    assert len(index) == 60
    _same_answers(index, DenseReferenceIndex(cases))


def test_cases_that_leave_are_never_found_and_stop_counting_in_the_weights() -> None:
    cases = _cases(60)
    index = SimilarCaseIndex(cases)
    gone = {c.case_id for c in cases[::3]}
    assert index.remove([*gone, "never-there"]) == len(gone)
    kept = [c for c in cases if c.case_id not in gone]
    assert len(index) == len(kept)
    assert {c.case_id for c in index.cases} == {c.case_id for c in kept}
    _same_answers(index, DenseReferenceIndex(kept))


def test_a_case_closing_again_replaces_its_earlier_self() -> None:
    cases = _cases(20)
    index = SimilarCaseIndex(cases)
    again = ResolvedCase(
        case_id=cases[0].case_id,
        exception_type="shipment_late",
        summary="parcel lost UPS hoodie",
        features={"days_late": 3.0},
        resolution="refund",
    )
    index.add([again])
    assert len(index) == 20
    assert index.get(again.case_id) == again
    top = index.nearest(
        exception_type="shipment_late",
        summary="parcel lost UPS hoodie",
        features={"days_late": 3.0},
        k=1,
    )
    assert [n.case for n in top] == [again]


def test_a_relabel_changes_the_outcome_not_the_neighbours() -> None:
    index = SimilarCaseIndex(_cases(30))
    kind, summary, features = QUERIES[0]
    before = index.nearest(exception_type=kind, summary=summary, features=features)
    first = before[0].case.case_id
    assert index.relabel(first, reopened=True, recontacted=False)
    assert not index.relabel("never-there", reopened=True, recontacted=False)
    after = index.nearest(exception_type=kind, summary=summary, features=features)
    assert [(n.case.case_id, n.similarity) for n in after] == [
        (n.case.case_id, n.similarity) for n in before
    ]
    assert after[0].case.reopened
    assert not before[0].case.reopened


def test_the_index_knows_what_erasure_writes_over_a_ticket() -> None:
    assert ERASED_MARK == ERASED


class LetterEmbedder:
    """A dense embedder standing in for sentence embeddings: letter counts, normalised."""

    name = "letters"
    sparse = False

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = np.zeros((len(texts), 26))
        for i, text in enumerate(texts):
            for ch in text.lower():
                if "a" <= ch <= "z":
                    rows[i, ord(ch) - 97] += 1
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def test_dense_embeddings_join_leave_and_score_as_their_dot_products() -> None:
    cases = _cases(40)
    index = SimilarCaseIndex(cases[:20], LetterEmbedder())
    for case in cases[20:]:
        index.add([case])
    index.remove([cases[0].case_id])
    kind, summary, features = QUERIES[0]
    found = index.nearest(exception_type=kind, summary=summary, features=features, k=3)
    embedder = LetterEmbedder()
    query = embedder.embed([summary])[0]
    reference = DenseReferenceIndex([c for c in cases[1:]])
    expected = sorted(
        (
            round(
                0.5 * float(embedder.embed([c.summary])[0] @ query)
                + 0.5 * feature_similarity(features, c.features),
                4,
            ),
            c.case_id,
        )
        for c in reference.cases
        if c.exception_type == kind
    )
    best = sorted(expected, key=lambda e: (-e[0], e[1]))[:3]
    assert [(n.similarity, n.case.case_id) for n in found] == best
