"""The substitution saga: swap the line, note it on the order, refund a cheaper substitute's
difference, tell the customer.

An approved substitution (``workflow.actions.approve_now``) runs
``approved_substitution_steps``, built from the vendor rows its approval maps it to
(``wms.substitute``, ``shopify.add_note`` and, when the substitute is cheaper, the refund
at the payment's provider), under a key fixed by the action, as the reship does.

The steps run in the order that keeps every undo possible: the swap and the order's note
first (undone by swapping back onto the reservation the swap replaced, or releasing the
substitute's reservation when it replaced none; and a note saying the substitution was
called off), then the refund, which is the saga's pivot: money back on a card is not
taken again, so once it is done a failing notification undoes nothing and waits for a
retry. The customer is told last, so nothing is said before the swap and the money are
real. A dearer or equal substitute moves no money: the retailer absorbs the difference
(the approval records it), and the customer is never charged more without a choice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orderops.writeback.reship import ref, stamped
from orderops.writeback.sagas import Effect, InvalidSaga, SagaStep
from orderops.writeback.vendor_terms import VendorEffect

KIND = "substitution"
REFUNDS = frozenset({("stripe", "refund"), ("shopify", "refund")})


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
    refunds = [e for e in queued if (e.system, e.operation) in REFUNDS]
    if swap is None or note is None or len(refunds) > 1 or len(queued) != 2 + len(refunds):
        raise InvalidSaga(
            f"a substitution maps to substitute, add_note and at most one refund, "
            f"not {[(e.system, e.operation) for e in queued]}"
        )
    line = {k: swap.payload[k] for k in ("order_id", "from_sku", "to_sku", "quantity")}
    said = f"{line['quantity']} x {line['from_sku']} replaced by {line['to_sku']}"
    steps = [
        SagaStep(
            name="swap",
            effect=Effect(system="wms", operation="substitute", payload={**swap.payload}),
            undo=Effect(
                system="wms",
                operation="revert_substitution",
                payload={
                    **line,
                    "order_ref": swap.payload.get("order_ref"),
                    "reservation_id": ref("swap", "reservation_id"),
                    "released_reservation_ids": ref("swap", "released_reservation_ids"),
                },
            ),
        ),
        SagaStep(
            name="order_note",
            effect=Effect(system="shopify", operation="add_note", payload={**note.payload}),
            undo=Effect(
                system="shopify",
                operation="add_note",
                payload={
                    "order_ref": note.payload.get("order_ref"),
                    "order_id": note.payload["order_id"],
                    "text": f"Substitution called off ({said})",
                },
            ),
        ),
    ]
    refunded = ""
    for refund in refunds:
        steps.append(
            SagaStep(
                name="refund",
                effect=Effect(
                    system=refund.system, operation=refund.operation, payload={**refund.payload}
                ),
                pivot=True,
            )
        )
        refunded = " and refunded the price difference"
    if ticket_id is not None:
        told = f"We have substituted an item of your order ({said}){refunded}."
        steps.append(
            SagaStep(
                name="notify",
                effect=Effect(
                    system="zendesk",
                    operation="add_comment",
                    payload={
                        "ticket_id": int(ticket_id),
                        "comment": told,
                        "public": True,
                    },
                ),
            )
        )
    return [stamped(step, stamp) for step in steps]
