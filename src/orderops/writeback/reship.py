"""The reship saga: reserve stock, buy a label, tell the shop, the CRM and the customer.

Undo, newest first: a bought label is refunded, the reservation released, and the order
note gets a line saying the reship was called off. Creating a shipment (unbought) costs
nothing and has no undo; notes to the CRM and the ticket are not retracted.

An approved reship action (``decide.actions.approve_now``) runs ``approved_reship_steps``,
built from the vendor rows its approval maps it to, under a key fixed by the action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orderops.writeback.sagas import (
    Effect,
    InvalidSaga,
    SagaStep,
    customer_comment,
    ref,
    stamped,
    step,
)
from orderops.writeback.vendor_terms import VendorEffect

KIND = "reship"


@dataclass(frozen=True, kw_only=True)
class ReshipPlan:
    order_id: str
    """The order in the WMS."""
    shopify_order_id: int
    sku: str
    quantity: int
    to_address: dict[str, str]
    from_address: dict[str, str]
    parcel: dict[str, float]
    customer_id: str
    ticket_id: int
    service: str | None = None


def reship_steps(plan: ReshipPlan) -> list[SagaStep]:
    shipment: dict[str, Any] = {
        "to_address": plan.to_address,
        "from_address": plan.from_address,
        "parcel": plan.parcel,
        "reference": f"reship-{plan.order_id}",
    }
    if plan.service is not None:
        shipment["service"] = plan.service
    return [
        SagaStep(
            name="reserve",
            effect=Effect(
                system="wms",
                operation="reserve",
                payload={"order_id": plan.order_id, "sku": plan.sku, "quantity": plan.quantity},
            ),
            undo=Effect(
                system="wms",
                operation="release",
                payload={
                    "order_id": plan.order_id,
                    "reservation_id": ref("reserve", "reservation_id"),
                },
            ),
        ),
        SagaStep(
            name="shipment",
            effect=Effect(system="easypost", operation="create_shipment", payload=shipment),
        ),
        SagaStep(
            name="label",
            effect=Effect(
                system="easypost",
                operation="buy_label",
                payload={
                    "shipment_id": ref("shipment", "shipment_id"),
                    "rate_id": ref("shipment", "rate_id"),
                },
            ),
            undo=Effect(
                system="easypost",
                operation="refund_label",
                payload={"shipment_id": ref("label", "shipment_id")},
            ),
        ),
        SagaStep(
            name="shop_note",
            effect=Effect(
                system="shopify",
                operation="add_note",
                payload={
                    "order_id": plan.shopify_order_id,
                    "text": "Reship sent",
                    "tracking_code": ref("label", "tracking_code"),
                },
            ),
            undo=Effect(
                system="shopify",
                operation="add_note",
                payload={"order_id": plan.shopify_order_id, "text": "Reship called off"},
            ),
        ),
        SagaStep(
            name="crm_note",
            effect=Effect(
                system="crm",
                operation="add_note",
                payload={"customer_id": plan.customer_id, "body": "Replacement shipped"},
            ),
        ),
        SagaStep(
            name="ticket_comment",
            effect=Effect(
                system="zendesk",
                operation="add_comment",
                payload={
                    "ticket_id": plan.ticket_id,
                    "comment": "We have shipped a replacement.",
                    "public": True,
                },
            ),
        ),
    ]


# -- the reship an approved action runs ---------------------------------------------------


def approved_reship_steps(
    queued: Sequence[VendorEffect],
    *,
    shopify_order: int | None,
    ticket_id: str | None,
    stamp: Mapping[str, Any],
) -> list[SagaStep]:
    """The saga of an approved reship, from the rows its approval maps it to
    (``wms.reserve_lines`` then ``easypost.ship``): hold the stock, buy the label on it,
    note the tracking code on the Shopify order (when the order is Shopify's: a numeric
    reference), and tell the customer on their open ticket when they have one. ``stamp``
    (the action and case) goes on every payload.

    Undo, newest first: the label is refunded, the reservations this saga made released
    (by id: the order's other reservations of the same SKUs stay held), and the order note
    says the reship was called off. The comment to the customer is last, so it is never
    undone: nothing is said before the parcel is real.
    """
    by_operation = {(e.system, e.operation): e for e in queued}
    reserve = by_operation.get(("wms", "reserve_lines"))
    ship = by_operation.get(("easypost", "ship"))
    if reserve is None or ship is None or len(queued) != 2:
        raise InvalidSaga(f"a reship maps to reserve_lines and ship, not {list(by_operation)}")
    order_id = str(reserve.payload["order_id"])
    skus = sorted({str(line["sku"]) for line in reserve.payload["lines"]})
    release = {
        "order_id": order_id,
        "order_ref": order_id,
        "skus": skus,
        "reservation_ids": ref("reserve", "reservation_ids"),
    }
    steps = [
        step(
            "reserve",
            "wms",
            "reserve_lines",
            reserve.payload,
            undo=("wms", "release_lines", release),
        ),
        step(
            "label",
            "easypost",
            "ship",
            ship.payload,
            undo=("easypost", "refund_label", {"shipment_id": ref("label", "shipment_id")}),
        ),
    ]
    if shopify_order is not None:
        note = {
            "order_id": shopify_order,
            "text": "Replacement shipped",
            "tracking_code": ref("label", "tracking_code"),
            "expect": {"cancelled": False},
        }
        called_off = {"order_id": shopify_order, "text": "Replacement called off"}
        steps.append(
            step("shop_note", "shopify", "add_note", note, undo=("shopify", "add_note", called_off))
        )
    if ticket_id is not None:
        steps.append(customer_comment(ticket_id, "We have shipped a replacement."))
    return [stamped(s, stamp) for s in steps]
