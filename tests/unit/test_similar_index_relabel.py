"""A kept index takes newer outcomes without refitting, and only for the texts it was fitted on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orderops.recommend.similar import (
    Neighbour,
    ResolvedCase,
    SimilarCaseIndex,
    outcome_evidence,
)


def _case(case_id: str, summary: str, kind: str) -> ResolvedCase:
    return ResolvedCase(
        case_id=case_id,
        exception_type="shipment_late",
        summary=summary,
        features={"days_late": 3.0},
        resolution=kind,
    )


CASES = [
    _case("a", "late parcel lost by UPS hoodie", "reship"),
    _case("b", "late parcel delayed FedEx mug", "refund"),
    _case("c", "wrong address returned to sender", "contact_customer"),
]


def _nearest(index: SimilarCaseIndex) -> list[Neighbour]:
    return index.nearest(exception_type="shipment_late", summary="parcel lost UPS", features={})


def test_relabelling_keeps_the_neighbours_and_changes_only_the_outcomes() -> None:
    index = SimilarCaseIndex(CASES)
    recontacted = [replace(c, recontacted=c.case_id == "a") for c in CASES]
    relabelled = index.relabelled(recontacted)
    before, after = _nearest(index), _nearest(relabelled)
    assert [(n.case.case_id, n.similarity) for n in after] == [
        (n.case.case_id, n.similarity) for n in before
    ]
    assert outcome_evidence(before)["reship"] > outcome_evidence(after)["reship"]
    assert not index.cases[0].recontacted  # the index already answering is unchanged


def test_relabelling_refuses_other_texts() -> None:
    index = SimilarCaseIndex(CASES)
    with pytest.raises(ValueError, match="same summaries"):
        index.relabelled([*CASES[:2], _case("c", "something else entirely", "refund")])


def test_no_case_of_the_type_means_no_neighbours() -> None:
    assert (
        SimilarCaseIndex(CASES).nearest(
            exception_type="payment_failed", summary="card declined", features={}
        )
        == []
    )
