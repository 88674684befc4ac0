"""The substitution saga: swap the line, note it on the order, refund a cheaper substitute's
difference (or, on a payment only authorised, capture the lower total), tell the customer.

An approved substitution (``decide.actions.approve_now``) runs
``approved_substitution_steps``, built from the vendor rows its approval maps it to
(``wms.substitute``, ``shopify.add_note`` and, when the substitute is cheaper, the refund
at the payment's provider), under a key fixed by the action, as the reship does.

The steps run in the order that keeps every undo possible: the swap and the order's note
first (undone by swapping back onto the reservation the swap replaced, or releasing the
substitute's reservation when it replaced none; and a note saying the substitution was
called off), then the refund (or capture), which is the saga's pivot: money moved on a
card is not moved back, so once it is done a failing notification undoes nothing and
waits for a retry. The customer is told last, so nothing is said before the swap and the money are
real. A dearer or equal substitute moves no money: the retailer absorbs the difference
(the approval records it), and the customer is never charged more without a choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orderops.writeback.sagas import (
    InvalidSaga,
    SagaStep,
    customer_comment,
    ref,
    stamped,
    step,
)
from orderops.writeback.vendor_terms import VendorEffect

KIND = "substitution"
REFUNDS = frozenset({("stripe", "refund"), ("shopify", "refund")})
CAPTURES = frozenset({("stripe", "capture")})
MONEY = REFUNDS | CAPTURES
_MONEY_SAID = {
    "refund": " and refunded the price difference",
    "capture": " and charged only the lower total",
}


def _money_step(effect: VendorEffect) -> str:
    return "capture" if (effect.system, effect.operation) in CAPTURES else "refund"


def approved_substitution_steps(
    queued: Sequence[VendorEffect],
    *,
    ticket_id: str | None,
    stamp: Mapping[str, Any],
) -> list[SagaStep]:
    """The saga of an approved substitution, from the rows its approval maps it to;
    ``stamp`` (the action and case) goes on every payload. The ticket comment is added
    when the customer has an open ticket."""
    by_operation = {(e.system, e.operation): e for e in queued}
    swap = by_operation.get(("wms", "substitute"))
    note = by_operation.get(("shopify", "add_note"))
    money = [e for e in queued if (e.system, e.operation) in MONEY]
    if swap is None or note is None or len(money) > 1 or len(queued) != 2 + len(money):
        raise InvalidSaga(
            f"a substitution maps to substitute, add_note and at most one refund or capture, "
            f"not {[(e.system, e.operation) for e in queued]}"
        )
    line = {k: swap.payload[k] for k in ("order_id", "from_sku", "to_sku", "quantity")}
    said = f"{line['quantity']} x {line['from_sku']} replaced by {line['to_sku']}"
    swap_back = {
        **line,
        "order_ref": swap.payload.get("order_ref"),
        "reservation_id": ref("swap", "reservation_id"),
        "released_reservation_ids": ref("swap", "released_reservation_ids"),
    }
    called_off = {
        "order_ref": note.payload.get("order_ref"),
        "order_id": note.payload["order_id"],
        "text": f"Substitution called off ({said})",
    }
    steps = [
        step(
            "swap",
            "wms",
            "substitute",
            swap.payload,
            undo=("wms", "revert_substitution", swap_back),
        ),
        step(
            "order_note",
            "shopify",
            "add_note",
            note.payload,
            undo=("shopify", "add_note", called_off),
        ),
    ]
    steps += [step(_money_step(m), m.system, m.operation, m.payload, pivot=True) for m in money]
    if ticket_id is not None:
        paid = "".join(_MONEY_SAID[_money_step(m)] for m in money)
        told = f"We have substituted an item of your order ({said}){paid}."
        steps.append(customer_comment(ticket_id, told))
    return [stamped(s, stamp) for s in steps]
