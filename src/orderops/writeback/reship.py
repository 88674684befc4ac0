"""The reship saga: reserve stock, buy a label, tell the shop, the CRM and the customer.

Undo, newest first: a bought label is refunded, the reservation released, and the order
note gets a line saying the reship was called off. Creating a shipment (unbought) costs
nothing and has no undo; notes to the CRM and the ticket are not retracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orderops.writeback.sagas import REF, Effect, SagaStep

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


def ref(step: str, field: str) -> dict[str, str]:
    return {REF: f"{step}.{field}"}


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
