"""Reconciliation's judgement: our record of a delivered effect beside the vendor's state."""

from __future__ import annotations

import pytest

from orderops.domain.reconciliation import (
    CheckedEffect,
    MismatchKind,
    Observed,
    Recorded,
    checked_effect,
    compare,
)

REFUND = Recorded(effect=CheckedEffect.STRIPE_REFUND, vendor_ref="re_1", amount_minor=2000)
HOLD = Recorded(effect=CheckedEffect.SHOPIFY_HOLD, vendor_ref="77")
LABEL = Recorded(effect=CheckedEffect.EASYPOST_LABEL, vendor_ref="shp_1")
COMMENT = Recorded(effect=CheckedEffect.ZENDESK_COMMENT, vendor_ref="12")


@pytest.mark.parametrize(
    ("recorded", "observed", "kind"),
    [
        (REFUND, Observed(found=True, amount_minor=2000, status="succeeded"), None),
        (REFUND, Observed(found=True, amount_minor=2000, status="pending"), None),
        (REFUND, Observed(found=True, amount_minor=1500, status="succeeded"), "amount_differs"),
        (
            REFUND,
            Observed(found=True, amount_minor=2000, status="canceled"),
            "refund_not_succeeded",
        ),
        (REFUND, Observed(found=True, amount_minor=2000, status="failed"), "refund_not_succeeded"),
        (REFUND, Observed(found=False), "missing"),
        (HOLD, Observed(found=True, present=True, status=None), None),
        (HOLD, Observed(found=True, present=False, status="open"), "hold_released"),
        (LABEL, Observed(found=True, present=True), None),
        (LABEL, Observed(found=True, present=False, status="refunded"), "label_voided"),
        (LABEL, Observed(found=False), "missing"),
        (COMMENT, Observed(found=True, present=True), None),
        (COMMENT, Observed(found=True, present=False), "comment_missing"),
    ],
)
def test_each_effect_agrees_or_names_its_disagreement(
    recorded: Recorded, observed: Observed, kind: str | None
) -> None:
    found = compare(recorded, observed)
    assert (found.kind if found else None) == (MismatchKind(kind) if kind else None)


def test_the_sentence_says_both_amounts_and_the_refund() -> None:
    found = compare(REFUND, Observed(found=True, amount_minor=1500, status="succeeded"))
    assert found is not None
    assert "re_1" in found.sentence
    assert "1500" in found.sentence
    assert "2000" in found.sentence
    assert (found.expected, found.actual) == (2000, 1500)


def test_a_released_hold_names_the_status_it_was_found_in() -> None:
    found = compare(HOLD, Observed(found=True, present=False, status="open"))
    assert found is not None
    assert "77" in found.sentence
    assert "now open" in found.sentence


@pytest.mark.parametrize(
    ("system", "operation", "effect"),
    [
        ("stripe", "refund", CheckedEffect.STRIPE_REFUND),
        ("easypost", "buy_label", CheckedEffect.EASYPOST_LABEL),
        ("zendesk", "add_comment", CheckedEffect.ZENDESK_COMMENT),
        ("shopify", "add_note", None),
        ("stripe", "capture", None),
    ],
)
def test_only_effects_with_a_lasting_vendor_state_are_checked(
    system: str, operation: str, effect: CheckedEffect | None
) -> None:
    assert checked_effect(system, operation) is effect
