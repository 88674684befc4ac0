"""Warehouse stock for decisions: reserve a replacement's lines, substitute, release.

The WMS replays by Idempotency-Key, so each line travels under its own derived key
(``<key>:<sku>``) and a retry gets the first reservation back. Stock is checked first:
a line the warehouse cannot cover stops the write before anything is reserved, rather
than leaving half a replacement held. A release after a cancellation lets go of what is
still held for the order's cancelled SKUs; a release that names its reservations (a
saga's undo) lets go of those alone, never another reservation of the same SKU on the
order; nothing held is already the wanted state. A substitution is reverted by swapping
back onto the reservation it replaced, or, when it replaced none, by releasing its own.
"""

from __future__ import annotations

from typing import Any

from orderops.writeback.connectors.wms import Reservation
from orderops.writeback.registry import Call, Connectors, Difference, Operation, Precheck, Result

# wms.reserve_lines payload: order_id, lines: [{sku, quantity}]
# wms.substitute payload: order_id, from_sku, to_sku, quantity
# wms.release_lines payload: order_id, skus: [sku], reservation_ids: [id] (optional)
# wms.revert_substitution payload: order_id, from_sku, to_sku, quantity (the swap's),
#   reservation_id (the replacement), released_reservation_ids (what the swap let go)


def line_key(key: str, sku: str) -> str:
    return f"{key}:{sku}"


def _lines(call: Call) -> list[dict[str, Any]]:
    return [dict(line) for line in call.payload["lines"]]


def _shortfalls(connectors: Connectors, wanted: dict[str, int]) -> list[Difference]:
    wms = connectors.wms()
    differences = []
    for sku, quantity in wanted.items():
        available = wms.get_stock(sku).available
        if available < quantity:
            differences.append(Difference(f"available {sku}", f">= {quantity}", available))
    return differences


def reserve_precheck(connectors: Connectors, call: Call) -> Precheck:
    wanted: dict[str, int] = {}
    for line in _lines(call):
        wanted[str(line["sku"])] = wanted.get(str(line["sku"]), 0) + int(line["quantity"])
    return Precheck(differences=tuple(_shortfalls(connectors, wanted)))


def reserve_lines(connectors: Connectors, call: Call) -> Result:
    wms = connectors.wms()
    reservations = [
        wms.reserve(
            order_id=str(call.payload["order_id"]),
            sku=str(line["sku"]),
            quantity=int(line["quantity"]),
            idempotency_key=line_key(call.idempotency_key, str(line["sku"])),
        )
        for line in _lines(call)
    ]
    return {"reservation_ids": [r.id for r in reservations]}


def reserve_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    active = _active(connectors.wms().list_reservations(str(call.payload["order_id"])))
    return set(result["reservation_ids"]) <= {r.id for r in active}


def substitute_precheck(connectors: Connectors, call: Call) -> Precheck:
    wanted = {str(call.payload["to_sku"]): int(call.payload["quantity"])}
    return Precheck(differences=tuple(_shortfalls(connectors, wanted)))


def substitute(connectors: Connectors, call: Call) -> Result:
    substitution = connectors.wms().substitute(
        order_id=str(call.payload["order_id"]),
        from_sku=str(call.payload["from_sku"]),
        to_sku=str(call.payload["to_sku"]),
        quantity=int(call.payload["quantity"]),
        idempotency_key=call.idempotency_key,
        reservation_id=_optional(call.payload.get("reservation_id")),
    )
    return {
        "substitution_id": substitution.id,
        "reservation_id": substitution.reservation_id,
        "released_reservation_ids": list(substitution.released_reservation_ids),
        "replayed": substitution.replayed,
    }


def substitute_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    active = _active(connectors.wms().list_reservations(str(call.payload["order_id"])))
    return any(
        r.id == result["reservation_id"] and r.sku == str(call.payload["to_sku"]) for r in active
    )


def _held(connectors: Connectors, call: Call) -> list[Reservation]:
    skus = {str(s) for s in call.payload["skus"]}
    named = call.payload.get("reservation_ids")
    reservations = connectors.wms().list_reservations(str(call.payload["order_id"]))
    return [
        r
        for r in _active(reservations)
        if r.sku in skus and (named is None or r.id in {str(n) for n in named})
    ]


def release_precheck(connectors: Connectors, call: Call) -> Precheck:
    if not _held(connectors, call):
        return Precheck(earlier_result={"reservation_ids": [], "released": "nothing held"})
    return Precheck()


def release_lines(connectors: Connectors, call: Call) -> Result:
    wms = connectors.wms()
    released = [
        wms.release(reservation_id=r.id, idempotency_key=line_key(call.idempotency_key, r.id))
        for r in _held(connectors, call)
    ]
    return {"reservation_ids": [r.id for r in released]}


def release_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    return not _held(connectors, call)


def _replacement_held(connectors: Connectors, call: Call) -> bool:
    replacement = str(call.payload["reservation_id"])
    held = connectors.wms().list_reservations(
        str(call.payload["order_id"]), sku=str(call.payload["to_sku"])
    )
    return any(r.id == replacement for r in _active(held))


def revert_precheck(connectors: Connectors, call: Call) -> Precheck:
    if not _replacement_held(connectors, call):
        return Precheck(earlier_result={"reverted": "nothing held"})
    return Precheck()


def revert_substitution(connectors: Connectors, call: Call) -> Result:
    wms, payload = connectors.wms(), call.payload
    replacement = str(payload["reservation_id"])
    if not payload.get("released_reservation_ids"):
        released = wms.release(reservation_id=replacement, idempotency_key=call.idempotency_key)
        return {"reverted": "released", "reservation_id": released.id}
    back = wms.substitute(
        order_id=str(payload["order_id"]),
        from_sku=str(payload["to_sku"]),
        to_sku=str(payload["from_sku"]),
        quantity=int(payload["quantity"]),
        idempotency_key=call.idempotency_key,
        reservation_id=replacement,
    )
    return {"reverted": "substituted_back", "reservation_id": back.reservation_id}


def revert_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    return not _replacement_held(connectors, call)


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _active(reservations: list[Reservation]) -> list[Reservation]:
    return [r for r in reservations if r.status == "active"]


OPERATIONS = [
    Operation(
        system="wms",
        name="reserve_lines",
        precheck=reserve_precheck,
        execute=reserve_lines,
        confirm=reserve_confirm,
        summary_fields=("order_id",),
    ),
    Operation(
        system="wms",
        name="substitute",
        precheck=substitute_precheck,
        execute=substitute,
        confirm=substitute_confirm,
        summary_fields=("order_id", "from_sku", "to_sku", "quantity"),
    ),
    Operation(
        system="wms",
        name="release_lines",
        precheck=release_precheck,
        execute=release_lines,
        confirm=release_confirm,
        summary_fields=("order_id", "skus"),
    ),
    Operation(
        system="wms",
        name="revert_substitution",
        precheck=revert_precheck,
        execute=revert_substitution,
        confirm=revert_confirm,
        summary_fields=("order_id", "from_sku", "to_sku", "reservation_id"),
    ),
]
