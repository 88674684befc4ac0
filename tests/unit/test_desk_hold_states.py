"""A hold's states: it only ever moves towards released, and released is final."""

from __future__ import annotations

import pytest

from orderops.domain.errors import IllegalTransition
from orderops.domain.holds import (
    HoldKind,
    HoldStatus,
    check_hold_transition,
    release_key,
    vendor_hold_for,
)

ALLOWED = {
    (HoldStatus.ACTIVE, HoldStatus.RELEASE_DUE),
    (HoldStatus.ACTIVE, HoldStatus.RELEASED),
    (HoldStatus.RELEASE_DUE, HoldStatus.RELEASED),
}


@pytest.mark.parametrize("current", list(HoldStatus))
@pytest.mark.parametrize("target", list(HoldStatus))
def test_only_the_moves_towards_released_are_legal(current: HoldStatus, target: HoldStatus) -> None:
    if (current, target) in ALLOWED:
        assert check_hold_transition(current, target) is target
    else:
        with pytest.raises(IllegalTransition):
            check_hold_transition(current, target)


def test_only_shopifys_fulfillment_hold_is_a_desk_hold() -> None:
    found = vendor_hold_for("shopify", "hold_fulfillment")

    assert found is not None
    assert (found.kind, found.release) == (HoldKind.FULFILLMENT, "release_hold")
    assert vendor_hold_for("shopify", "release_hold") is None
    assert vendor_hold_for("stripe", "capture") is None


def test_each_hold_has_its_own_release_key() -> None:
    assert release_key("a") != release_key("b")
    assert release_key("a") == release_key("a")
