"""A generic warehouse (WMS) REST API: reserve, release and substitute stock.

No single vendor: it models what most WMS APIs offer a returns/exception desk, with an
``Idempotency-Key`` header (IETF draft semantics) so the connector can retry safely, and
``{"error": {"code", "message"}}`` bodies.

Everything is per reservation, as in real WMS APIs: one order may hold several
reservations of one SKU (the original line and a replacement), so a release names its
reservation, a substitution may name the reservation it replaces (``reservation_id``;
without it, every active reservation of ``from_sku`` on the order is let go) and answers
which ones it released (what they held beyond the swapped quantity stays held, as a new
remainder reservation), and the list filters by order and SKU.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from orderops.sandbox.control import SandboxControl
from orderops.sandbox.http import ApiError
from orderops.sandbox.idempotency import IdempotencyStore, JsonEffect, idempotent_json_write


def render_wms_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class WmsSandbox:
    def __init__(self, *, api_key: str = "wms_orderops") -> None:
        self.api_key = api_key
        self.control = SandboxControl(render_error=render_wms_error)
        self._store = IdempotencyStore()
        self._on_hand: dict[str, int] = {}
        self._reservations: dict[str, dict[str, Any]] = {}
        self._substitutions: list[dict[str, Any]] = []
        self._locations: dict[str, dict[str, str]] = {}
        self._counter = 0
        self.app = self._build_app()

    def set_stock(self, sku: str, on_hand: int) -> None:
        with self._store.lock:
            self._on_hand[sku] = on_hand

    def set_location(self, code: str, address: dict[str, str]) -> None:
        """Seed a warehouse and its postal address (what ``GET /v1/locations/{code}`` answers)."""
        with self._store.lock:
            self._locations[code] = dict(address)

    def substitutions(self, order_id: str | None = None) -> list[dict[str, Any]]:
        with self._store.lock:
            return [
                dict(s)
                for s in self._substitutions
                if order_id is None or s["order_id"] == order_id
            ]

    def stock(self, sku: str) -> dict[str, Any]:
        with self._store.lock:
            if sku not in self._on_hand:
                raise ApiError(404, "unknown_sku", f"No such SKU: {sku}")
            reserved = sum(
                r["quantity"]
                for r in self._reservations.values()
                if r["sku"] == sku and r["status"] == "active"
            )
            on_hand = self._on_hand[sku]
            return {
                "sku": sku,
                "on_hand": on_hand,
                "reserved": reserved,
                "available": on_hand - reserved,
            }

    def reservations(
        self, order_id: str | None = None, sku: str | None = None
    ) -> list[dict[str, Any]]:
        with self._store.lock:
            return [
                dict(r)
                for r in self._reservations.values()
                if (order_id is None or r["order_id"] == order_id)
                and (sku is None or r["sku"] == sku)
            ]

    # -- effects ----------------------------------------------------------------------

    def _reserve(self, body: dict[str, Any], key: str | None) -> tuple[int, dict[str, Any]]:
        order_id, sku, quantity = _text(body, "order_id"), _text(body, "sku"), _quantity(body)
        reservation = self._new_reservation(order_id, sku, quantity)
        self.control.ledger.record(
            "reservation.created",
            order_id,
            idempotency_key=key,
            data={"reservation_id": reservation["id"], "sku": sku, "quantity": quantity},
        )
        return 201, dict(reservation)

    def _release(self, reservation_id: str, key: str | None) -> tuple[int, dict[str, Any]]:
        reservation = self._reservations.get(reservation_id)
        if reservation is None:
            raise ApiError(404, "not_found", f"No such reservation: {reservation_id}")
        if reservation["status"] != "active":
            raise ApiError(
                409,
                "reservation_not_active",
                f"Reservation {reservation_id} is {reservation['status']}.",
            )
        reservation["status"] = "released"
        self.control.ledger.record(
            "reservation.released",
            reservation["order_id"],
            idempotency_key=key,
            data={"reservation_id": reservation_id},
        )
        return 200, dict(reservation)

    def _substitute(self, body: dict[str, Any], key: str | None) -> tuple[int, dict[str, Any]]:
        order_id = _text(body, "order_id")
        from_sku, to_sku, quantity = _text(body, "from_sku"), _text(body, "to_sku"), _quantity(body)
        if from_sku == to_sku:
            raise ApiError(422, "invalid_substitution", "from_sku and to_sku must differ.")
        replaced = self._replaced(body, order_id, from_sku)
        replacement = self._new_reservation(order_id, to_sku, quantity)
        for reservation in replaced:
            reservation["status"] = "released"
        left = sum(r["quantity"] for r in replaced) - quantity
        remainder = self._new_reservation(order_id, from_sku, left) if left > 0 else None
        substitution = {
            "id": self._id("sub"),
            "order_id": order_id,
            "from_sku": from_sku,
            "to_sku": to_sku,
            "quantity": quantity,
            "reservation_id": replacement["id"],
            "released_reservation_ids": [r["id"] for r in replaced],
            "remainder_reservation_id": remainder["id"] if remainder else None,
        }
        self._substitutions.append(substitution)
        self.control.ledger.record(
            "substitution.created", order_id, idempotency_key=key, data=dict(substitution)
        )
        return 201, dict(substitution)

    def _replaced(self, body: dict[str, Any], order_id: str, from_sku: str) -> list[dict[str, Any]]:
        """The reservations a substitution lets go: the one it names, else every active one
        of ``from_sku`` on the order."""
        named = body.get("reservation_id")
        if named is None:
            return [
                r
                for r in self._reservations.values()
                if (r["order_id"], r["sku"], r["status"]) == (order_id, from_sku, "active")
            ]
        reservation = self._reservations.get(str(named))
        if reservation is None or reservation["order_id"] != order_id:
            raise ApiError(404, "not_found", f"No such reservation on {order_id}: {named}")
        if reservation["sku"] != from_sku:
            raise ApiError(
                422, "invalid_substitution", f"Reservation {named} holds {reservation['sku']}."
            )
        if reservation["status"] != "active":
            raise ApiError(
                409, "reservation_not_active", f"Reservation {named} is {reservation['status']}."
            )
        return [reservation]

    def _new_reservation(self, order_id: str, sku: str, quantity: int) -> dict[str, Any]:
        if sku not in self._on_hand:
            raise ApiError(422, "unknown_sku", f"No such SKU: {sku}")
        if self.stock(sku)["available"] < quantity:
            raise ApiError(422, "insufficient_stock", f"Not enough {sku} available.")
        reservation: dict[str, Any] = {
            "id": self._id("res"),
            "order_id": order_id,
            "sku": sku,
            "quantity": quantity,
            "status": "active",
        }
        self._reservations[reservation["id"]] = reservation
        return reservation

    # -- HTTP -------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="WMS sandbox", openapi_url=None)
        self.control.install(app)
        auth = [Depends(self._authenticate)]

        @app.post("/v1/reservations", dependencies=auth)
        async def reserve(request: Request) -> Response:
            return await self._write(request, self._reserve)

        @app.post("/v1/reservations/{reservation_id}/release", dependencies=auth)
        async def release(reservation_id: str, request: Request) -> Response:
            return await self._write(request, lambda _, key: self._release(reservation_id, key))

        @app.post("/v1/substitutions", dependencies=auth)
        async def substitute(request: Request) -> Response:
            return await self._write(request, self._substitute)

        @app.get("/v1/reservations", dependencies=auth)
        async def list_reservations(
            order_id: str | None = None, sku: str | None = None
        ) -> dict[str, Any]:
            return {"data": self.reservations(order_id, sku)}

        @app.get("/v1/locations/{code}", dependencies=auth)
        async def get_location(code: str) -> dict[str, Any]:
            with self._store.lock:
                address = self._locations.get(code)
            if address is None:
                raise ApiError(404, "not_found", f"No such location: {code}")
            return {"code": code, "address": dict(address)}

        @app.get("/v1/stock/{sku}", dependencies=auth)
        async def get_stock(sku: str) -> dict[str, Any]:
            return self.stock(sku)

        return app

    async def _write(self, request: Request, effect: JsonEffect) -> Response:
        return await idempotent_json_write(
            request, self._store, scope=self.api_key, effect=effect, render_error=render_wms_error
        )

    def _authenticate(self, request: Request) -> None:
        if request.headers.get("x-api-key") != self.api_key:
            raise ApiError(401, "unauthorized", "Missing or invalid X-API-Key.")

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter:06d}"


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ApiError(422, "invalid_field", f"{name} is required.")
    return value


def _quantity(body: dict[str, Any]) -> int:
    value = body.get("quantity")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ApiError(422, "invalid_field", "quantity must be a positive integer.")
    return value
