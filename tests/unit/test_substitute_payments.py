"""A cheaper substitute gives the customer the difference whatever state their money is in:
refunded from a captured payment, or never taken from one only authorised (the hold is
captured less the difference and the provider releases the rest)."""

from __future__ import annotations

from typing import Any

import pytest

from orderops.domain.actions import (
    ActionContext,
    InvalidAction,
    LineInfo,
    PaymentInfo,
    PlannedAction,
    plan,
)

TOTAL = 4000


def order(status: str, *, committed_hold: int = 0) -> ActionContext:
    return ActionContext(
        order_ref="o-1",
        currency="USD",
        order_total_minor=TOTAL,
        lines=(LineInfo(sku="TEE-1", quantity=2, unit_price_minor=2000),),
        payments=(
            PaymentInfo(
                payment_ref="pi_1",
                provider="stripe",
                status=status,
                amount_minor=TOTAL,
                committed_hold_minor=committed_hold,
            ),
        ),
    )


def substitute(difference: int) -> dict[str, object]:
    return {
        "from_sku": "TEE-1",
        "to_sku": "TEE-2",
        "quantity": 2,
        "price_difference_minor": difference,
    }


def money_effects(planned: PlannedAction) -> list[tuple[str, dict[str, Any]]]:
    return [(e.operation, e.payload) for e in planned.effects if e.system == "payments"]


def test_on_a_captured_payment_the_difference_is_refunded() -> None:
    planned = plan("substitute", substitute(-600), order("captured"))

    ((operation, payload),) = money_effects(planned)
    assert (operation, payload["amount_minor"]) == ("refund", 600)
    assert planned.params_json["capture_minor"] is None


def test_on_an_authorised_payment_the_hold_is_captured_less_the_difference() -> None:
    planned = plan("substitute", substitute(-600), order("authorized"))

    ((operation, payload),) = money_effects(planned)
    assert (operation, payload["amount_minor"]) == ("capture", TOTAL - 600)
    assert planned.params_json["payment_ref"] == "pi_1"
    assert planned.exposure_minor == 600


def test_the_capture_is_what_is_left_of_the_hold_after_other_commitments() -> None:
    planned = plan("substitute", substitute(-600), order("authorized", committed_hold=1000))

    ((_, payload),) = money_effects(planned)
    assert payload["amount_minor"] == TOTAL - 1000 - 600


def test_a_difference_that_leaves_nothing_to_capture_is_refused() -> None:
    with pytest.raises(InvalidAction, match="leaves nothing to capture"):
        plan("substitute", substitute(-TOTAL), order("authorized"))


@pytest.mark.parametrize("status", ["captured", "authorized"])
def test_an_equal_or_dearer_substitute_moves_no_money(status: str) -> None:
    planned = plan("substitute", substitute(300), order(status))

    assert money_effects(planned) == []
    assert planned.params_json["payment_ref"] is None
