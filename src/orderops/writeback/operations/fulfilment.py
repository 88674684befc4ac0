"""Fulfilment: warehouse reservations and shipping labels, the steps of a reship.

The WMS replays by Idempotency-Key, so reserving needs no look-first; releasing looks
first because a reservation released by hand is already what we wanted. EasyPost buys
once per shipment, so a label is bought on a shipment created by an earlier step (a
crash while creating one leaves an unbought shipment, which costs nothing).
"""

from __future__ import annotations

from orderops.writeback.connectors.easypost import REFUND_STANDS
from orderops.writeback.registry import Call, Connectors, Operation, Precheck, Result, fresh_answer

# -- WMS ----------------------------------------------------------------------------------
# reserve payload: order_id, sku, quantity        release payload: order_id, reservation_id


def wms_reserve(connectors: Connectors, call: Call) -> Result:
    reservation = connectors.wms().reserve(
        order_id=str(call.payload["order_id"]),
        sku=str(call.payload["sku"]),
        quantity=int(call.payload["quantity"]),
        idempotency_key=call.idempotency_key,
    )
    return {
        "reservation_id": reservation.id,
        "sku": reservation.sku,
        "status": reservation.status,
        "replayed": reservation.replayed,
    }


def wms_reserve_answered(result: Result) -> bool:
    """The WMS answers with the reservation, ``active``; a replayed answer is read back."""
    return fresh_answer(result) and result.get("status") == "active"


def wms_reserve_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    reservations = connectors.wms().list_reservations(str(call.payload["order_id"]))
    return any(r.id == result["reservation_id"] and r.status == "active" for r in reservations)


def wms_release_precheck(connectors: Connectors, call: Call) -> Precheck:
    reservation_id = str(call.payload["reservation_id"])
    for reservation in connectors.wms().list_reservations(str(call.payload["order_id"])):
        if reservation.id == reservation_id and reservation.status != "active":
            return Precheck(
                earlier_result={"reservation_id": reservation_id, "status": reservation.status}
            )
    return Precheck()


def wms_release(connectors: Connectors, call: Call) -> Result:
    reservation = connectors.wms().release(
        reservation_id=str(call.payload["reservation_id"]), idempotency_key=call.idempotency_key
    )
    return {
        "reservation_id": reservation.id,
        "status": reservation.status,
        "replayed": reservation.replayed,
    }


def wms_release_answered(result: Result) -> bool:
    """The WMS answers with the reservation, no longer active; replays are read back."""
    return fresh_answer(result) and result.get("status") not in (None, "active")


def wms_release_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    reservations = connectors.wms().list_reservations(str(call.payload["order_id"]))
    return any(r.id == result["reservation_id"] and r.status != "active" for r in reservations)


# -- EasyPost -----------------------------------------------------------------------------
NOT_BOUGHT = "not_bought"
"""The refund_status reported when the label to refund was never bought."""

# create_shipment payload: to_address, from_address, parcel, reference, service?
# buy_label payload: shipment_id, rate_id           refund_label payload: shipment_id


def easypost_create_shipment(connectors: Connectors, call: Call) -> Result:
    shipment = connectors.easypost().create_shipment(
        to_address=dict(call.payload["to_address"]),
        from_address=dict(call.payload["from_address"]),
        parcel=dict(call.payload["parcel"]),
        reference=str(call.payload.get("reference") or call.idempotency_key),
    )
    wanted = call.payload.get("service")
    rates = [r for r in shipment.rates if wanted is None or r.service == wanted]
    if not rates:
        return {"shipment_id": shipment.id, "rate_id": None}
    cheapest = min(rates, key=lambda r: r.amount)
    return {"shipment_id": shipment.id, "rate_id": cheapest.id, "rate": str(cheapest.amount)}


def easypost_shipment_created(result: Result) -> bool:
    """EasyPost answers with the shipment it created: its id is what a read-back finds."""
    return result.get("shipment_id") is not None


def easypost_shipment_exists(connectors: Connectors, call: Call, result: Result) -> bool:
    return connectors.easypost().get_shipment(str(result["shipment_id"])).id == str(
        result["shipment_id"]
    )


def easypost_buy_label(connectors: Connectors, call: Call) -> Result:
    shipment = connectors.easypost().buy(
        shipment_id=str(call.payload["shipment_id"]),
        rate_id=str(call.payload["rate_id"]),
        idempotency_key=call.idempotency_key,
    )
    return {
        "shipment_id": shipment.id,
        "tracking_code": shipment.tracking_code,
        "label_url": shipment.label_url,
    }


def easypost_label_answered(result: Result) -> bool:
    """EasyPost answers a purchase with the shipment carrying its tracking code."""
    return result.get("tracking_code") is not None


def easypost_label_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    shipment = connectors.easypost().get_shipment(str(result["shipment_id"]))
    return shipment.tracking_code is not None and shipment.tracking_code == result["tracking_code"]


def easypost_refund_precheck(connectors: Connectors, call: Call) -> Precheck:
    """A label never bought needs no refund: the undo is already true."""
    shipment_id = str(call.payload["shipment_id"])
    if connectors.easypost().get_shipment(shipment_id).tracking_code is None:
        return Precheck(earlier_result={"shipment_id": shipment_id, "refund_status": NOT_BOUGHT})
    return Precheck()


def easypost_refund_label(connectors: Connectors, call: Call) -> Result:
    shipment = connectors.easypost().refund_label(
        shipment_id=str(call.payload["shipment_id"]), idempotency_key=call.idempotency_key
    )
    return {
        "shipment_id": shipment.id,
        "refund_status": shipment.refund_status,
        "replayed": shipment.replayed,
    }


def easypost_refund_answered(result: Result) -> bool:
    """EasyPost answers a refund request with the shipment and its refund status; the
    connector's look-first answers with the shipment as read: either shows it standing."""
    return result.get("refund_status") in REFUND_STANDS


def easypost_refund_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    """Read back: the refund stands on the shipment (or there was never a label to refund)."""
    shipment = connectors.easypost().get_shipment(str(result["shipment_id"]))
    if result.get("refund_status") == NOT_BOUGHT:
        return shipment.tracking_code is None
    return shipment.refund_status in REFUND_STANDS


OPERATIONS = [
    Operation(
        system="wms",
        name="reserve",
        execute=wms_reserve,
        confirm=wms_reserve_confirm,
        summary_fields=("order_id", "sku", "quantity"),
        answer_confirms=wms_reserve_answered,
    ),
    Operation(
        system="wms",
        name="release",
        precheck=wms_release_precheck,
        execute=wms_release,
        confirm=wms_release_confirm,
        summary_fields=("order_id", "reservation_id"),
        answer_confirms=wms_release_answered,
    ),
    Operation(
        system="easypost",
        name="create_shipment",
        execute=easypost_create_shipment,
        confirm=easypost_shipment_exists,
        summary_fields=("reference", "service"),
        answer_confirms=easypost_shipment_created,
    ),
    Operation(
        system="easypost",
        name="buy_label",
        execute=easypost_buy_label,
        confirm=easypost_label_confirm,
        summary_fields=("shipment_id", "rate_id"),
        answer_confirms=easypost_label_answered,
    ),
    Operation(
        system="easypost",
        name="refund_label",
        precheck=easypost_refund_precheck,
        execute=easypost_refund_label,
        confirm=easypost_refund_confirm,
        summary_fields=("shipment_id",),
        answer_confirms=easypost_refund_answered,
    ),
]
