"""Parcels in EasyPost for decisions: ship a replacement or an upgrade, verify an address.

``easypost.ship`` creates a shipment from the order's warehouse (its address from the
WMS) to the customer and buys the label at the wanted service, the cheapest rate when
none is named. EasyPost replays nothing by key, so the shipment carries the key as its
reference: the precheck finds a label of ours already bought, and an unbought shipment
of ours left by a crash is bought instead of creating another.

A replacement must not ship stock nobody holds: when the payload names the lines held
for it (``reserved``), the precheck waits (a retryable error, so the outbox tries again
later) until the warehouse shows them reserved for the order.

``easypost.verify_address`` asks EasyPost whether an address is deliverable. It is a
read with no effect to repeat; its answer is the result the case's timeline shows.
"""

from __future__ import annotations

from orderops.writeback.connectors.base import PermanentError, RetryableError
from orderops.writeback.connectors.easypost import Shipment
from orderops.writeback.registry import Call, Connectors, Operation, Precheck, Result

# easypost.ship payload: to_address, origin (WMS location), parcel, service?,
#                        reserved?: {order_id, lines: [{sku, quantity}]}
# easypost.verify_address payload: address


def _ours(connectors: Connectors, call: Call) -> list[Shipment]:
    return connectors.easypost().find_shipments(call.idempotency_key)


def ship_precheck(connectors: Connectors, call: Call) -> Precheck:
    bought = [s for s in _ours(connectors, call) if s.tracking_code is not None]
    if bought:
        return Precheck(earlier_result=_label(bought[0]))
    reserved = call.payload.get("reserved")
    if reserved:
        _wait_for_reservation(connectors, str(reserved["order_id"]), reserved["lines"])
    return Precheck()


def _wait_for_reservation(
    connectors: Connectors, order_id: str, lines: list[dict[str, object]]
) -> None:
    held: dict[str, int] = {}
    for reservation in connectors.wms().list_reservations(order_id):
        if reservation.status == "active":
            held[reservation.sku] = held.get(reservation.sku, 0) + reservation.quantity
    missing = [
        str(line["sku"])
        for line in lines
        if held.get(str(line["sku"]), 0) < int(str(line["quantity"]))
    ]
    if missing:
        raise RetryableError(
            f"waiting for the warehouse to hold {', '.join(missing)} for order {order_id}",
            system="wms",
            provider_code="reservation_pending",
        )


def ship(connectors: Connectors, call: Call) -> Result:
    easypost = connectors.easypost()
    unbought = [s for s in _ours(connectors, call) if s.tracking_code is None]
    shipment = (
        unbought[0]
        if unbought
        else easypost.create_shipment(
            to_address=dict(call.payload["to_address"]),
            from_address=connectors.wms().get_location(str(call.payload["origin"])),
            parcel=dict(call.payload["parcel"]),
            reference=call.idempotency_key,
        )
    )
    wanted = call.payload.get("service")
    rates = [r for r in shipment.rates if wanted is None or r.service == wanted]
    if not rates:
        offered = ", ".join(sorted({r.service for r in shipment.rates}))
        raise PermanentError(
            f"EasyPost offers no {wanted} rate for this parcel (offered: {offered})",
            system="easypost",
            provider_code="service_unavailable",
        )
    cheapest = min(rates, key=lambda r: r.amount)
    bought = easypost.buy(
        shipment_id=shipment.id, rate_id=cheapest.id, idempotency_key=call.idempotency_key
    )
    return _label(bought) | {"service": cheapest.service, "rate": str(cheapest.amount)}


def ship_answered(result: Result) -> bool:
    """EasyPost answers the purchase with the shipment carrying its tracking code."""
    return result.get("tracking_code") is not None


def ship_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    shipment = connectors.easypost().get_shipment(str(result["shipment_id"]))
    return shipment.tracking_code is not None and shipment.tracking_code == result["tracking_code"]


def _label(shipment: Shipment) -> Result:
    return {
        "shipment_id": shipment.id,
        "tracking_code": shipment.tracking_code,
        "label_url": shipment.label_url,
    }


def verify_address(connectors: Connectors, call: Call) -> Result:
    verification = connectors.easypost().verify_address(
        {str(k): str(v) for k, v in dict(call.payload["address"]).items()}
    )
    return {
        "address_id": verification.id,
        "deliverable": verification.deliverable,
        "errors": list(verification.errors),
    }


def verify_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    """A verification is an answer, not a change: having one is all there is to confirm."""
    return bool(result.get("address_id"))


OPERATIONS = [
    Operation(
        system="easypost",
        name="ship",
        precheck=ship_precheck,
        execute=ship,
        confirm=ship_confirm,
        summary_fields=("origin", "service"),
        answer_confirms=ship_answered,
    ),
    Operation(
        system="easypost",
        name="verify_address",
        execute=verify_address,
        confirm=verify_confirm,
    ),
]
