"""Which step lists make a saga: references only to earlier steps, and at most one pivot,
which has no undo (it is the step that cannot be taken back)."""

from __future__ import annotations

import pytest

from orderops.writeback.reship import approved_reship_steps
from orderops.writeback.sagas import Effect, InvalidSaga, SagaStep, validate
from orderops.writeback.substitution import approved_substitution_steps
from orderops.writeback.vendor_terms import VendorEffect

NOTE = Effect(system="shopify", operation="add_note", payload={"order_id": 1, "text": "x"})
REFUND = Effect(system="stripe", operation="refund", payload={"amount_minor": 300})


def test_a_pivot_with_an_undo_is_refused() -> None:
    with pytest.raises(InvalidSaga, match="refund is a pivot: it has no undo"):
        validate([SagaStep(name="refund", effect=REFUND, undo=NOTE, pivot=True)])


def test_two_pivots_are_refused() -> None:
    steps = [
        SagaStep(name="refund", effect=REFUND, pivot=True),
        SagaStep(name="second", effect=REFUND, pivot=True),
    ]
    with pytest.raises(InvalidSaga, match="at most one pivot"):
        validate(steps)


SWAP = VendorEffect(
    system="wms",
    operation="substitute",
    payload={"order_id": "1001", "from_sku": "A", "to_sku": "B", "quantity": 1},
)
SHOP_NOTE = VendorEffect(system="shopify", operation="add_note", payload={"order_id": 1001})
STRIPE_REFUND = VendorEffect(system="stripe", operation="refund", payload={"amount_minor": 300})


def test_a_substitution_undoes_before_it_refunds_and_tells_the_customer_last() -> None:
    steps = approved_substitution_steps(
        [SWAP, SHOP_NOTE, STRIPE_REFUND], ticket_id="7", stamp={"action_id": "a1"}
    )

    assert [(s.name, s.undo is not None, s.pivot) for s in steps] == [
        ("swap", True, False),
        ("order_note", True, False),
        ("refund", False, True),
        ("notify", False, False),
    ]
    assert {s.effect.payload["action_id"] for s in steps} == {"a1"}
    assert "refunded the price difference" in steps[-1].effect.payload["comment"]
    validate(steps)


@pytest.mark.parametrize(
    "queued",
    [[SWAP], [SHOP_NOTE, STRIPE_REFUND], [SWAP, SHOP_NOTE, STRIPE_REFUND, STRIPE_REFUND]],
    ids=["no-note", "no-swap", "two-refunds"],
)
def test_rows_that_are_not_a_substitution_make_no_saga(queued: list[VendorEffect]) -> None:
    with pytest.raises(InvalidSaga, match="a substitution maps to"):
        approved_substitution_steps(queued, ticket_id=None, stamp={})


RESERVE = VendorEffect(
    system="wms",
    operation="reserve_lines",
    payload={"order_id": "1001", "lines": [{"sku": "A", "quantity": 1}]},
)
SHIP = VendorEffect(system="easypost", operation="ship", payload={"order_id": "1001"})


def test_both_remedy_sagas_build_their_steps_alike_and_never_share_a_payload() -> None:
    stamp = {"action_id": "a1", "case_id": "c1"}
    reship = approved_reship_steps([RESERVE, SHIP], shopify_order=1001, ticket_id="7", stamp=stamp)
    swap = approved_substitution_steps([SWAP, SHOP_NOTE], ticket_id="7", stamp=stamp)

    # the same last step, a public comment on the customer's ticket, never undone
    for last in (reship[-1], swap[-1]):
        assert (last.name, last.effect.system, last.effect.operation) == (
            "notify",
            "zendesk",
            "add_comment",
        )
        assert (last.effect.payload["ticket_id"], last.effect.payload["public"]) == (7, True)
        assert last.undo is None
    # every undo carries the stamp, as its step does
    undone = [s for s in [*reship, *swap] if s.undo is not None]
    assert [s.name for s in undone] == ["reserve", "label", "shop_note", "swap", "order_note"]
    assert all(s.undo is not None and s.undo.payload["action_id"] == "a1" for s in undone)
    # a step copies the vendor row's payload: stamping it leaves the row as it was
    assert "action_id" not in SWAP.payload
    assert "action_id" not in RESERVE.payload
