"""Warehouse (WMS): reserve, release and substitute stock, keyed by Idempotency-Key.

The WMS replays a request it has seen under the same key, so a retry after a lost answer
returns the first reservation instead of holding the stock twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from orderops.writeback.connectors.transport import (
    ApiClient,
    ConnectorBase,
    ConnectorOptions,
    ProviderError,
)

SYSTEM = "wms"


@dataclass(frozen=True)
class Reservation:
    id: str
    order_id: str
    sku: str
    quantity: int
    status: str
    replayed: bool = False


@dataclass(frozen=True)
class Substitution:
    id: str
    order_id: str
    from_sku: str
    to_sku: str
    quantity: int
    reservation_id: str
    replayed: bool = False
    released_reservation_ids: tuple[str, ...] = ()
    """The reservations of ``from_sku`` it let go (the one named, or every active one)."""


@dataclass(frozen=True)
class StockLevel:
    sku: str
    on_hand: int
    reserved: int
    available: int


def parse_error_object(response: httpx.Response) -> ProviderError:
    """``{"error": {"code", "message"}}``, the shape of the WMS and CRM sandboxes."""
    try:
        error = response.json().get("error", {})
        return ProviderError(error.get("code"), str(error.get("message")))
    except (ValueError, AttributeError):
        return ProviderError(None, response.text[:200])


class WmsConnector(ConnectorBase):
    def __init__(self, *, base_url: str, api_key: str, options: ConnectorOptions) -> None:
        self._api = ApiClient(
            system=SYSTEM,
            base_url=base_url,
            options=options,
            parse_error=parse_error_object,
            headers={"X-API-Key": api_key},
        )

    def reserve(
        self, *, order_id: str, sku: str, quantity: int, idempotency_key: str
    ) -> Reservation:
        payload = {"order_id": order_id, "sku": sku, "quantity": quantity}
        response = self._post("/v1/reservations", payload, idempotency_key)
        return _reservation(self._api.body(response), _replayed(response))

    def release(self, *, reservation_id: str, idempotency_key: str) -> Reservation:
        response = self._post(f"/v1/reservations/{reservation_id}/release", {}, idempotency_key)
        return _reservation(self._api.body(response), _replayed(response))

    def substitute(
        self,
        *,
        order_id: str,
        from_sku: str,
        to_sku: str,
        quantity: int,
        idempotency_key: str,
        reservation_id: str | None = None,
    ) -> Substitution:
        """Swap ``from_sku`` for ``to_sku``; ``reservation_id`` names the one reservation
        of ``from_sku`` it replaces (without it the WMS lets go of every active one)."""
        payload: dict[str, Any] = {
            "order_id": order_id,
            "from_sku": from_sku,
            "to_sku": to_sku,
            "quantity": quantity,
        }
        if reservation_id is not None:
            payload["reservation_id"] = reservation_id
        response = self._post("/v1/substitutions", payload, idempotency_key)
        body = self._api.body(response)
        return Substitution(
            id=str(body["id"]),
            order_id=str(body["order_id"]),
            from_sku=str(body["from_sku"]),
            to_sku=str(body["to_sku"]),
            quantity=int(body["quantity"]),
            reservation_id=str(body["reservation_id"]),
            replayed=_replayed(response),
            released_reservation_ids=tuple(
                str(r) for r in body.get("released_reservation_ids") or ()
            ),
        )

    def list_reservations(self, order_id: str, *, sku: str | None = None) -> list[Reservation]:
        params = {"order_id": order_id} | ({"sku": sku} if sku is not None else {})
        body = self._api.run(
            lambda: self._api.request_json("GET", "/v1/reservations", params=params)
        )
        return [_reservation(item, False) for item in body["data"]]

    def get_stock(self, sku: str) -> StockLevel:
        body = self._api.run(lambda: self._api.request_json("GET", f"/v1/stock/{sku}"))
        return StockLevel(
            sku=str(body["sku"]),
            on_hand=int(body["on_hand"]),
            reserved=int(body["reserved"]),
            available=int(body["available"]),
        )

    def get_location(self, code: str) -> dict[str, str]:
        """A warehouse's postal address (``GET /v1/locations/{code}``): where parcels ship from."""
        body = self._api.run(lambda: self._api.request_json("GET", f"/v1/locations/{code}"))
        return {str(k): str(v) for k, v in body["address"].items()}

    def _post(self, path: str, payload: dict[str, Any], idempotency_key: str) -> httpx.Response:
        headers = {"Idempotency-Key": idempotency_key}
        return self._api.run(lambda: self._api.request("POST", path, json=payload, headers=headers))


def _replayed(response: httpx.Response) -> bool:
    return str(response.headers.get("idempotent-replayed", "")).lower() == "true"


def _reservation(body: dict[str, Any], replayed: bool) -> Reservation:
    return Reservation(
        id=str(body["id"]),
        order_id=str(body["order_id"]),
        sku=str(body["sku"]),
        quantity=int(body["quantity"]),
        status=str(body["status"]),
        replayed=replayed,
    )
