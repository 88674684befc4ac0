"""The dispute a chargeback signal names: its Stripe id, however the detail is written."""

from __future__ import annotations

import pytest

from orderops.recommend.dispute_refs import UNIDENTIFIED, dispute_ref_from, stripe_dispute_id


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ("id=dp_1MxYz, reason=fraudulent, status=needs_response", "dp_1MxYz"),
        ("reason=fraudulent,id=du_sandbox000002 ,amount=5000", "du_sandbox000002"),
        ("dp_123", "dp_123"),
        ("  dp_123  ", "dp_123"),
        ("reason=fraudulent, status=needs_response", None),
        ("id=not an id, reason=x", None),
        ("a chargeback was opened", None),
        ("dispute", None),
        ("", None),
        (None, None),
    ],
)
def test_the_stripe_id_is_read_from_the_detail_or_nothing_is(
    detail: str | None, expected: str | None
) -> None:
    assert stripe_dispute_id(detail) == expected


def test_the_first_signal_naming_an_id_wins_and_a_nameless_one_still_marks_a_dispute() -> None:
    assert dispute_ref_from(["reason=x", "id=dp_2, reason=y", "dp_3"]) == "dp_2"
    assert dispute_ref_from([None, "reason=x"]) == UNIDENTIFIED
    assert stripe_dispute_id(UNIDENTIFIED) is None
    assert dispute_ref_from([]) is None
