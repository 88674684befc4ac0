"""Changes to the Shopify order itself: hold and release its fulfillment, cancel one line.

A hold applies to every fulfillment order of the order that can still be held, and is
recognised by the key's marker in the hold's notes; a release applies to every one on
hold. A line is cancelled by a refund naming the line with restock type ``cancel``, whose
note carries the marker. Each is decided on the order as it was (not cancelled, the line
still there in full, something still to fulfil), which the precheck compares.
"""

from __future__ import annotations

from decimal import Decimal

from orderops.writeback.connectors.markers import has_text_marker
from orderops.writeback.connectors.shopify import FulfillmentOrderState
from orderops.writeback.registry import Call, Connectors, Difference, Operation, Precheck, Result

HOLDABLE = frozenset({"open", "scheduled", "on_hold"})
"""Fulfillment order statuses Shopify lets a hold be placed on (held ones are re-held)."""

# shopify.hold_fulfillment payload: order_id, reason, notes, expect: {cancelled: false}
# shopify.release_hold payload: order_id
# shopify.cancel_line payload: order_id, sku, quantity, amount?, note,
#                              expect: {cancelled: false, quantity: <line quantity>}


def _cancelled_difference(connectors: Connectors, call: Call) -> Difference | None:
    order = connectors.shopify().get_order(int(call.payload["order_id"]))
    cancelled = order.cancelled_at is not None
    expected = call.expect("cancelled", False)
    if expected is not None and bool(expected) != cancelled:
        return Difference("cancelled", expected, cancelled)
    return None


def _ours(fulfillment_order: FulfillmentOrderState, call: Call) -> bool:
    return any(has_text_marker(n, call.idempotency_key) for n in fulfillment_order.hold_notes)


def hold_precheck(connectors: Connectors, call: Call) -> Precheck:
    orders = connectors.shopify().list_fulfillment_orders(int(call.payload["order_id"]))
    holdable = [f for f in orders if f.status in HOLDABLE]
    if holdable and all(_ours(f, call) for f in holdable):
        return Precheck(earlier_result=_held_result(holdable))
    differences = []
    cancelled = _cancelled_difference(connectors, call)
    if cancelled is not None:
        differences.append(cancelled)
    if not holdable:
        statuses = sorted({f.status for f in orders})
        differences.append(Difference("fulfillment_orders", "open", statuses))
    return Precheck(differences=tuple(differences))


def hold(connectors: Connectors, call: Call) -> Result:
    shopify = connectors.shopify()
    held = []
    for fulfillment_order in shopify.list_fulfillment_orders(int(call.payload["order_id"])):
        if fulfillment_order.status not in HOLDABLE or _ours(fulfillment_order, call):
            continue
        held.append(
            shopify.hold_fulfillment(
                fulfillment_order_id=fulfillment_order.id,
                idempotency_key=call.idempotency_key,
                reason=str(call.payload.get("reason") or "other"),
                notes=str(call.payload.get("notes") or ""),
            )
        )
    return _held_result(held)


def hold_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    shopify = connectors.shopify()
    return all(
        (state := shopify.get_fulfillment_order(int(i))).status == "on_hold" and _ours(state, call)
        for i in result["fulfillment_order_ids"]
    )


def release_precheck(connectors: Connectors, call: Call) -> Precheck:
    """Nothing on hold any more is the released state we wanted, not a conflict."""
    orders = connectors.shopify().list_fulfillment_orders(int(call.payload["order_id"]))
    if not any(f.status == "on_hold" for f in orders):
        return Precheck(earlier_result={"fulfillment_order_ids": [], "released": "none on hold"})
    return Precheck()


def release(connectors: Connectors, call: Call) -> Result:
    shopify = connectors.shopify()
    released = [
        shopify.release_hold(fulfillment_order_id=f.id, idempotency_key=call.idempotency_key)
        for f in shopify.list_fulfillment_orders(int(call.payload["order_id"]))
        if f.status == "on_hold"
    ]
    return {"fulfillment_order_ids": [f.id for f in released]}


def release_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    orders = connectors.shopify().list_fulfillment_orders(int(call.payload["order_id"]))
    return not any(f.status == "on_hold" for f in orders)


def _held_result(held: list[FulfillmentOrderState]) -> Result:
    return {"fulfillment_order_ids": [f.id for f in held]}


def cancel_line_precheck(connectors: Connectors, call: Call) -> Precheck:
    shopify = connectors.shopify()
    order_id = int(call.payload["order_id"])
    for refund in shopify.list_refunds(order_id):
        if has_text_marker(refund.note, call.idempotency_key):
            return Precheck(earlier_result={"refund_id": refund.id, "amount": str(refund.amount)})
    differences = []
    cancelled = _cancelled_difference(connectors, call)
    if cancelled is not None:
        differences.append(cancelled)
    sku = str(call.payload["sku"])
    quantity = sum(i.quantity for i in shopify.get_line_items(order_id) if i.sku == sku)
    expected = call.expect("quantity", None)
    if expected is not None and quantity != int(expected):
        differences.append(Difference(f"quantity of {sku}", expected, quantity))
    return Precheck(differences=tuple(differences))


def cancel_line(connectors: Connectors, call: Call) -> Result:
    shopify = connectors.shopify()
    order_id = int(call.payload["order_id"])
    sku = str(call.payload["sku"])
    line = next((i for i in shopify.get_line_items(order_id) if i.sku == sku), None)
    if line is None:
        raise KeyError(f"Shopify order {order_id} has no line with SKU {sku}")
    amount = call.payload.get("amount")
    refund = shopify.cancel_line(
        order_id=order_id,
        line_item_id=line.id,
        quantity=int(call.payload["quantity"]),
        idempotency_key=call.idempotency_key,
        amount=Decimal(str(amount)) if amount is not None else None,
        note=str(call.payload.get("note") or ""),
    )
    return {"refund_id": refund.id, "amount": str(refund.amount), "replayed": refund.replayed}


def cancel_line_answered(result: Result) -> bool:
    """The connector answers with the refund Shopify created, or ours found by marker."""
    return result.get("refund_id") is not None


def cancel_line_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    refunds = connectors.shopify().list_refunds(int(call.payload["order_id"]))
    return any(r.id == result["refund_id"] for r in refunds)


OPERATIONS = [
    Operation(
        system="shopify",
        name="hold_fulfillment",
        precheck=hold_precheck,
        execute=hold,
        confirm=hold_confirm,
        summary_fields=("order_id", "reason"),
    ),
    Operation(
        system="shopify",
        name="release_hold",
        precheck=release_precheck,
        execute=release,
        confirm=release_confirm,
        summary_fields=("order_id",),
    ),
    Operation(
        system="shopify",
        name="cancel_line",
        precheck=cancel_line_precheck,
        execute=cancel_line,
        confirm=cancel_line_confirm,
        summary_fields=("order_id", "sku", "quantity", "amount"),
        answer_confirms=cancel_line_answered,
    ),
]
