"""A Shopify Admin REST stand-in (``/admin/api/<version>/...``): orders, refunds, holds.

Shopify has no idempotency header, which is the point of this sandbox: a connector must
find its own earlier effect (a marker in a note, a tag or a hold's notes) before writing,
or a retry after a lost answer refunds twice. The sandbox keeps Shopify's other habits:
``X-Shopify-Access-Token`` auth, ``{"errors": ...}`` bodies, decimal-string amounts.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from orderops.domain.clock import Clock, SystemClock
from orderops.sandbox.control import SandboxControl
from orderops.sandbox.http import ApiError, json_body

VERSION_PATTERN = r"^\d{4}-\d{2}$"


def render_shopify_error(status: int, code: str, message: str) -> dict[str, Any]:
    if status == 422:
        return {"errors": {"base": [message]}}
    return {"errors": message}


class ShopifySandbox:
    """One shop: its access token, orders, their transactions, refunds and fulfillment orders."""

    def __init__(self, *, access_token: str = "shpat_orderops", clock: Clock | None = None) -> None:
        self.access_token = access_token
        self._clock = clock or SystemClock()
        self.control = SandboxControl(render_error=render_shopify_error)
        self._lock = threading.RLock()
        self._orders: dict[int, dict[str, Any]] = {}
        self._refunds: dict[int, list[dict[str, Any]]] = {}
        self._fulfillment_orders: dict[int, dict[str, Any]] = {}
        self._next = 1000
        self.app = self._build_app()

    # -- seeding and in-process reads -------------------------------------------------

    def add_order(
        self,
        *,
        total_price: str = "100.00",
        currency: str = "USD",
        note: str = "",
        tags: str = "",
        skus: tuple[str, ...] = ("SKU-1",),
    ) -> tuple[int, int]:
        """Create a paid order with one fulfillment order; return both ids."""
        with self._lock:
            order_id, transaction_id, fulfillment_order_id = (self._id(), self._id(), self._id())
            self._orders[order_id] = {
                "id": order_id,
                "name": f"#{order_id}",
                "currency": currency,
                "total_price": total_price,
                "financial_status": "paid",
                "cancelled_at": None,
                "cancel_reason": None,
                "note": note,
                "tags": tags,
                "line_items": [
                    {"id": self._id(), "sku": sku, "quantity": 1, "price": total_price}
                    for sku in skus
                ],
                "transactions": [
                    {
                        "id": transaction_id,
                        "kind": "sale",
                        "status": "success",
                        "amount": total_price,
                        "gateway": "shopify_payments",
                    }
                ],
            }
            self._refunds[order_id] = []
            self._fulfillment_orders[fulfillment_order_id] = {
                "id": fulfillment_order_id,
                "order_id": order_id,
                "status": "open",
                "fulfillment_holds": [],
            }
            return order_id, fulfillment_order_id

    def seed_order(
        self,
        *,
        order_id: int,
        name: str,
        total_price: str,
        currency: str = "USD",
        skus: tuple[str, ...] = ("SKU-1",),
        financial_status: str = "pending",
    ) -> None:
        """An order under the id another system already knows it by (the demo's simulated
        store), with one open fulfillment order; a second seed of the same order keeps it."""
        with self._lock:
            if order_id in self._orders:
                return
            self._orders[order_id] = {
                "id": order_id,
                "name": name,
                "currency": currency,
                "total_price": total_price,
                "financial_status": financial_status,
                "cancelled_at": None,
                "cancel_reason": None,
                "note": "",
                "tags": "",
                "line_items": [
                    {"id": self._id(), "sku": sku, "quantity": 1, "price": total_price}
                    for sku in skus
                ],
                "transactions": [],
            }
            self._refunds[order_id] = []
            fulfillment_order_id = self._id()
            self._fulfillment_orders[fulfillment_order_id] = {
                "id": fulfillment_order_id,
                "order_id": order_id,
                "status": "open",
                "fulfillment_holds": [],
            }

    def seed_order_state(
        self,
        order_id: int,
        *,
        financial_status: str | None = None,
        cancelled_at: str | None = None,
        cancel_reason: str | None = None,
        fulfilled: bool = False,
    ) -> None:
        """What happened to a seeded order outside this API (paid, cancelled, shipped), set
        directly: no ledger entry, since the ledger counts only effects asked of the API."""
        with self._lock:
            order = self._order(order_id)
            if financial_status is not None:
                order["financial_status"] = financial_status
            if cancelled_at is not None:
                order["cancelled_at"], order["cancel_reason"] = cancelled_at, cancel_reason
            if not (fulfilled or cancelled_at):
                return
            for fulfillment_order in self._fulfillment_orders.values():
                if fulfillment_order["order_id"] == order_id and fulfillment_order["status"] in (
                    "open",
                    "on_hold",
                ):
                    fulfillment_order["status"] = "closed" if fulfilled else "cancelled"

    def order(self, order_id: int) -> dict[str, Any]:
        with self._lock:
            return _public_order(self._order(order_id))

    def refunds_for(self, order_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._refunds.get(order_id, [])]

    def fulfillment_order(self, fulfillment_order_id: int) -> dict[str, Any]:
        with self._lock:
            return dict(self._fulfillment_order(fulfillment_order_id))

    def fulfillment_orders_for(self, order_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(f) for f in self._fulfillment_orders.values() if f["order_id"] == order_id]

    # -- HTTP -------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Shopify Admin sandbox", openapi_url=None)
        self.control.install(app)
        api = APIRouter(prefix="/admin/api/{version}", dependencies=[Depends(self._authenticate)])

        @api.get("/orders/{order_id}.json")
        async def get_order(order_id: int) -> dict[str, Any]:
            return {"order": self.order(order_id)}

        @api.put("/orders/{order_id}.json")
        async def update_order(order_id: int, request: Request) -> dict[str, Any]:
            changes = _object(await json_body(request), "order")
            return {"order": self._update(order_id, changes)}

        @api.post("/orders/{order_id}/cancel.json")
        async def cancel_order(order_id: int, request: Request) -> dict[str, Any]:
            body = await json_body(request) or {}
            return {"order": self._cancel(order_id, str(body.get("reason") or "other"))}

        @api.get("/orders/{order_id}/transactions.json")
        async def transactions(order_id: int) -> dict[str, Any]:
            return {"transactions": self.order(order_id)["transactions"]}

        @api.get("/orders/{order_id}/refunds.json")
        async def list_refunds(order_id: int) -> dict[str, Any]:
            self.order(order_id)
            return {"refunds": self.refunds_for(order_id)}

        @api.post("/orders/{order_id}/refunds.json")
        async def create_refund(order_id: int, request: Request) -> Response:
            refund = _object(await json_body(request), "refund")
            return JSONResponse({"refund": self._refund(order_id, refund)}, status_code=201)

        @api.get("/orders/{order_id}/fulfillment_orders.json")
        async def list_fulfillment_orders(order_id: int) -> dict[str, Any]:
            self.order(order_id)
            return {"fulfillment_orders": self.fulfillment_orders_for(order_id)}

        @api.get("/fulfillment_orders/{fulfillment_order_id}.json")
        async def get_fulfillment_order(fulfillment_order_id: int) -> dict[str, Any]:
            return {"fulfillment_order": self.fulfillment_order(fulfillment_order_id)}

        @api.post("/fulfillment_orders/{fulfillment_order_id}/hold.json")
        async def hold(fulfillment_order_id: int, request: Request) -> dict[str, Any]:
            hold = _object(await json_body(request), "fulfillment_hold")
            return {"fulfillment_order": self._hold(fulfillment_order_id, hold)}

        @api.post("/fulfillment_orders/{fulfillment_order_id}/release_hold.json")
        async def release_hold(fulfillment_order_id: int) -> dict[str, Any]:
            return {"fulfillment_order": self._release(fulfillment_order_id)}

        app.include_router(api)
        return app

    def _authenticate(self, version: str, request: Request) -> None:
        if request.headers.get("x-shopify-access-token") != self.access_token:
            raise ApiError(
                401,
                "unauthorized",
                "[API] Invalid API key or access token (unrecognized login or wrong password)",
            )
        if not _is_version(version):
            raise ApiError(404, "not_found", "Not Found")

    # -- effects ----------------------------------------------------------------------

    def _update(self, order_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            order = self._order(order_id)
            applied: dict[str, Any] = {k: str(changes[k]) for k in ("note", "tags") if k in changes}
            order.update(applied)
            self.control.ledger.record("order.updated", str(order_id), data=applied)
            return _public_order(order)

    def _cancel(self, order_id: int, reason: str) -> dict[str, Any]:
        with self._lock:
            order = self._order(order_id)
            if order["cancelled_at"] is not None:
                raise ApiError(422, "invalid", "Order has already been cancelled")
            order["cancelled_at"] = self._clock.now().isoformat()
            order["cancel_reason"] = reason
            self.control.ledger.record("order.cancelled", str(order_id), data={"reason": reason})
            return _public_order(order)

    def _refund(self, order_id: int, refund: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            order = self._order(order_id)
            amount = sum((_amount(t) for t in refund.get("transactions") or []), Decimal("0"))
            refunded = sum(
                (_amount(t) for r in self._refunds[order_id] for t in r["transactions"]),
                Decimal("0"),
            )
            if amount > Decimal(order["total_price"]) - refunded:
                raise ApiError(422, "invalid", "Amount cannot be greater than refundable amount")
            created = {
                "id": self._id(),
                "order_id": order_id,
                "created_at": self._clock.now().isoformat(),
                "note": refund.get("note"),
                "refund_line_items": list(refund.get("refund_line_items") or []),
                "transactions": [
                    {
                        "id": self._id(),
                        "kind": "refund",
                        "status": "success",
                        "amount": str(_amount(t)),
                        "parent_id": t.get("parent_id"),
                        "gateway": t.get("gateway"),
                    }
                    for t in refund.get("transactions") or []
                ],
            }
            self._refunds[order_id].append(created)
            order["financial_status"] = (
                "refunded"
                if refunded + amount >= Decimal(order["total_price"])
                else "partially_refunded"
            )
            self.control.ledger.record(
                "refund.created",
                str(order_id),
                data={"refund_id": created["id"], "amount": str(amount), "note": created["note"]},
            )
            return dict(created)

    def _hold(self, fulfillment_order_id: int, hold: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            fulfillment_order = self._fulfillment_order(fulfillment_order_id)
            if fulfillment_order["status"] not in ("open", "on_hold"):
                raise ApiError(422, "invalid", "The fulfillment order cannot be put on hold")
            entry = {
                "reason": hold.get("reason", "other"),
                "reason_notes": hold.get("reason_notes"),
            }
            fulfillment_order["fulfillment_holds"].append(entry)
            fulfillment_order["status"] = "on_hold"
            self.control.ledger.record(
                "fulfillment_order.held", str(fulfillment_order_id), data=entry
            )
            return dict(fulfillment_order)

    def _release(self, fulfillment_order_id: int) -> dict[str, Any]:
        with self._lock:
            fulfillment_order = self._fulfillment_order(fulfillment_order_id)
            if fulfillment_order["status"] != "on_hold":
                raise ApiError(422, "invalid", "The fulfillment order is not on hold")
            fulfillment_order["status"] = "open"
            fulfillment_order["fulfillment_holds"] = []
            self.control.ledger.record("fulfillment_order.released", str(fulfillment_order_id))
            return dict(fulfillment_order)

    # -- helpers ----------------------------------------------------------------------

    def _order(self, order_id: int) -> dict[str, Any]:
        order = self._orders.get(order_id)
        if order is None:
            raise ApiError(404, "not_found", "Not Found")
        return order

    def _fulfillment_order(self, fulfillment_order_id: int) -> dict[str, Any]:
        fulfillment_order = self._fulfillment_orders.get(fulfillment_order_id)
        if fulfillment_order is None:
            raise ApiError(404, "not_found", "Not Found")
        return fulfillment_order

    def _id(self) -> int:
        self._next += 1
        return self._next


def _is_version(version: str) -> bool:
    return re.match(VERSION_PATTERN, version) is not None


def _public_order(order: dict[str, Any]) -> dict[str, Any]:
    return {**order, "line_items": [dict(i) for i in order["line_items"]]}


def _object(body: dict[str, Any] | None, root: str) -> dict[str, Any]:
    """Shopify wraps every payload in its resource name; anything else is a 400."""
    value = (body or {}).get(root)
    if not isinstance(value, dict):
        raise ApiError(400, "bad_request", f"Required parameter missing or invalid: {root}")
    return value


def _amount(transaction: dict[str, Any]) -> Decimal:
    try:
        amount = Decimal(str(transaction.get("amount")))
    except InvalidOperation as exc:
        raise ApiError(422, "invalid", "Amount is not a number") from exc
    if amount <= 0:
        raise ApiError(422, "invalid", "Amount must be greater than 0")
    return amount
