"""Shopify Admin REST: cancel, refund, note and tag an order; hold and release fulfillment.

Shopify has no idempotency header, so every write is "look, then write": the operation
first reads the resource for its own marker (see ``markers``) or for the target state,
and writes only when neither is there. The retry policy wraps the whole look-then-write,
so a retry after a crash finds the effect the crash hid and does not repeat it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import httpx

from orderops.writeback.connectors.base import PermanentError
from orderops.writeback.connectors.markers import (
    has_text_marker,
    tag_marker,
    with_text_marker,
)
from orderops.writeback.connectors.transport import (
    ApiClient,
    ConnectorBase,
    ConnectorOptions,
    ProviderError,
)

SYSTEM = "shopify"
DEFAULT_API_VERSION = "2024-10"


@dataclass(frozen=True)
class ShopifyOrder:
    id: int
    name: str
    financial_status: str
    cancelled_at: str | None
    note: str
    tags: tuple[str, ...]
    total_price: Decimal
    currency: str
    replayed: bool = False


@dataclass(frozen=True)
class ShopifyRefund:
    id: int
    order_id: int
    amount: Decimal
    note: str | None
    replayed: bool = False


@dataclass(frozen=True)
class ShopifyLineItem:
    id: int
    sku: str
    quantity: int
    price: Decimal


@dataclass(frozen=True)
class FulfillmentOrderState:
    id: int
    order_id: int
    status: str
    hold_notes: tuple[str, ...]
    replayed: bool = False


def parse_shopify_error(response: httpx.Response) -> ProviderError:
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return ProviderError(None, response.text[:200])
    if isinstance(errors, dict):
        messages = [f"{k}: {', '.join(map(str, v))}" for k, v in errors.items()]
        return ProviderError(None, "; ".join(messages))
    return ProviderError(None, str(errors))


class ShopifyConnector(ConnectorBase):
    def __init__(
        self,
        *,
        base_url: str,
        access_token: str,
        options: ConnectorOptions,
        api_version: str = DEFAULT_API_VERSION,
    ) -> None:
        self._prefix = f"/admin/api/{api_version}"
        self._api = ApiClient(
            system=SYSTEM,
            base_url=base_url,
            options=options,
            parse_error=parse_shopify_error,
            headers={"X-Shopify-Access-Token": access_token},
        )

    # -- writes -----------------------------------------------------------------------

    def cancel_order(
        self, *, order_id: int, idempotency_key: str, reason: str = "other"
    ) -> ShopifyOrder:
        """Cancel once; an order already cancelled is the effect we wanted, not an error."""

        def attempt() -> ShopifyOrder:
            current = self._order(order_id)
            if current.cancelled_at is not None:
                return _with_replayed(current)
            body = self._json("POST", f"/orders/{order_id}/cancel.json", {"reason": reason})
            return _order(body["order"])

        return self._api.run(attempt)

    def refund(
        self, *, order_id: int, amount: Decimal, idempotency_key: str, note: str = ""
    ) -> ShopifyRefund:
        """Refund ``amount`` against the order's sale; the refund note carries the marker."""

        def attempt() -> ShopifyRefund:
            for earlier in self._refunds(order_id):
                if has_text_marker(earlier["note"], idempotency_key):
                    return _refund(earlier, replayed=True)
            parent = self._sale_transaction(order_id)
            payload = {
                "refund": {
                    "note": with_text_marker(note, idempotency_key),
                    "notify": False,
                    "transactions": [
                        {
                            "parent_id": parent["id"],
                            "amount": str(amount),
                            "kind": "refund",
                            "gateway": parent.get("gateway"),
                        }
                    ],
                }
            }
            body = self._json("POST", f"/orders/{order_id}/refunds.json", payload)
            return _refund(body["refund"], replayed=False)

        return self._api.run(attempt)

    def add_note(self, *, order_id: int, text: str, idempotency_key: str) -> ShopifyOrder:
        """Append a line to the order note, once per key."""

        def attempt() -> ShopifyOrder:
            current = self._order(order_id)
            if has_text_marker(current.note, idempotency_key):
                return _with_replayed(current)
            line = with_text_marker(text, idempotency_key)
            note = f"{current.note}\n{line}" if current.note else line
            return self._update(order_id, {"note": note})

        return self._api.run(attempt)

    def add_tags(self, *, order_id: int, tags: list[str], idempotency_key: str) -> ShopifyOrder:
        """Add tags plus a marker tag; Shopify replaces the whole tag list on update."""
        marker = tag_marker(idempotency_key)

        def attempt() -> ShopifyOrder:
            current = self._order(order_id)
            if marker in current.tags:
                return _with_replayed(current)
            merged = list(dict.fromkeys([*current.tags, *tags, marker]))
            return self._update(order_id, {"tags": ", ".join(merged)})

        return self._api.run(attempt)

    def hold_fulfillment(
        self,
        *,
        fulfillment_order_id: int,
        idempotency_key: str,
        reason: str = "other",
        notes: str = "",
    ) -> FulfillmentOrderState:
        def attempt() -> FulfillmentOrderState:
            current = self._fulfillment_order_json(fulfillment_order_id)
            notes_seen = [h.get("reason_notes") for h in current["fulfillment_holds"]]
            if any(has_text_marker(n, idempotency_key) for n in notes_seen):
                return _fulfillment_order(current, replayed=True)
            payload = {
                "fulfillment_hold": {
                    "reason": reason,
                    "reason_notes": with_text_marker(notes, idempotency_key),
                    "notify_merchant": False,
                }
            }
            path = f"/fulfillment_orders/{fulfillment_order_id}/hold.json"
            return _fulfillment_order(self._json("POST", path, payload)["fulfillment_order"])

        return self._api.run(attempt)

    def release_hold(
        self, *, fulfillment_order_id: int, idempotency_key: str
    ) -> FulfillmentOrderState:
        """Release once; a fulfillment order no longer on hold is already released."""

        def attempt() -> FulfillmentOrderState:
            current = self._fulfillment_order_json(fulfillment_order_id)
            if current["status"] != "on_hold":
                return _fulfillment_order(current, replayed=True)
            path = f"/fulfillment_orders/{fulfillment_order_id}/release_hold.json"
            return _fulfillment_order(self._json("POST", path, {})["fulfillment_order"])

        return self._api.run(attempt)

    def cancel_line(
        self,
        *,
        order_id: int,
        line_item_id: int,
        quantity: int,
        idempotency_key: str,
        amount: Decimal | None = None,
        note: str = "",
    ) -> ShopifyRefund:
        """Remove ``quantity`` of a line (a refund with ``restock_type: cancel``), once per key.

        Shopify has no line cancellation of its own: a refund naming the line item with
        restock type ``cancel`` is how a line is taken off an unfulfilled order; money moves
        only when ``amount`` is given (a Shopify-held payment), otherwise another system
        returns it. The refund note carries the marker, as for ``refund``.
        """

        def attempt() -> ShopifyRefund:
            for earlier in self._refunds(order_id):
                if has_text_marker(earlier["note"], idempotency_key):
                    return _refund(earlier, replayed=True)
            refund: dict[str, Any] = {
                "note": with_text_marker(note, idempotency_key),
                "notify": False,
                "refund_line_items": [
                    {"line_item_id": line_item_id, "quantity": quantity, "restock_type": "cancel"}
                ],
                "transactions": [],
            }
            if amount is not None and amount > 0:
                parent = self._sale_transaction(order_id)
                refund["transactions"] = [
                    {
                        "parent_id": parent["id"],
                        "amount": str(amount),
                        "kind": "refund",
                        "gateway": parent.get("gateway"),
                    }
                ]
            body = self._json("POST", f"/orders/{order_id}/refunds.json", {"refund": refund})
            return _refund(body["refund"], replayed=False)

        return self._api.run(attempt)

    # -- reads for reconciliation -----------------------------------------------------

    def get_line_items(self, order_id: int) -> list[ShopifyLineItem]:
        body = self._api.run(lambda: self._json("GET", f"/orders/{order_id}.json"))
        return [
            ShopifyLineItem(
                id=int(item["id"]),
                sku=str(item.get("sku") or ""),
                quantity=int(item["quantity"]),
                price=Decimal(str(item["price"])),
            )
            for item in body["order"].get("line_items") or []
        ]

    def list_fulfillment_orders(self, order_id: int) -> list[FulfillmentOrderState]:
        """The order's fulfillment orders (``GET /orders/{id}/fulfillment_orders.json``)."""
        path = f"/orders/{order_id}/fulfillment_orders.json"
        body = self._api.run(lambda: self._json("GET", path))
        return [_fulfillment_order(item) for item in body["fulfillment_orders"]]

    def get_order(self, order_id: int) -> ShopifyOrder:
        return self._api.run(lambda: self._order(order_id))

    def list_refunds(self, order_id: int) -> list[ShopifyRefund]:
        return [_refund(r, replayed=False) for r in self._api.run(lambda: self._refunds(order_id))]

    def get_fulfillment_order(self, fulfillment_order_id: int) -> FulfillmentOrderState:
        body = self._api.run(lambda: self._fulfillment_order_json(fulfillment_order_id))
        return _fulfillment_order(body)

    # -- single attempts --------------------------------------------------------------

    def _json(
        self, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self._api.request_json(method, self._prefix + path, json=payload)

    def _order(self, order_id: int) -> ShopifyOrder:
        return _order(self._json("GET", f"/orders/{order_id}.json")["order"])

    def _update(self, order_id: int, changes: dict[str, str]) -> ShopifyOrder:
        body = self._json("PUT", f"/orders/{order_id}.json", {"order": {"id": order_id, **changes}})
        return _order(body["order"])

    def _refunds(self, order_id: int) -> list[dict[str, Any]]:
        return list(self._json("GET", f"/orders/{order_id}/refunds.json")["refunds"])

    def _sale_transaction(self, order_id: int) -> dict[str, Any]:
        transactions = self._json("GET", f"/orders/{order_id}/transactions.json")["transactions"]
        for transaction in transactions:
            settled = transaction.get("status") == "success"
            if settled and transaction.get("kind") in ("sale", "capture"):
                return dict(transaction)
        raise PermanentError(f"order {order_id} has no settled sale to refund", system=SYSTEM)

    def _fulfillment_order_json(self, fulfillment_order_id: int) -> dict[str, Any]:
        path = f"/fulfillment_orders/{fulfillment_order_id}.json"
        return dict(self._json("GET", path)["fulfillment_order"])


def _order(body: dict[str, Any], *, replayed: bool = False) -> ShopifyOrder:
    tags = tuple(t.strip() for t in str(body.get("tags") or "").split(",") if t.strip())
    return ShopifyOrder(
        id=int(body["id"]),
        name=str(body.get("name", "")),
        financial_status=str(body.get("financial_status", "")),
        cancelled_at=body.get("cancelled_at"),
        note=str(body.get("note") or ""),
        tags=tags,
        total_price=Decimal(str(body["total_price"])),
        currency=str(body["currency"]),
        replayed=replayed,
    )


def _with_replayed(order: ShopifyOrder) -> ShopifyOrder:
    return replace(order, replayed=True)


def _refund(body: dict[str, Any], *, replayed: bool) -> ShopifyRefund:
    amount = sum((Decimal(str(t["amount"])) for t in body.get("transactions", [])), Decimal("0"))
    return ShopifyRefund(
        id=int(body["id"]),
        order_id=int(body["order_id"]),
        amount=amount,
        note=body.get("note"),
        replayed=replayed,
    )


def _fulfillment_order(body: dict[str, Any], *, replayed: bool = False) -> FulfillmentOrderState:
    return FulfillmentOrderState(
        id=int(body["id"]),
        order_id=int(body["order_id"]),
        status=str(body["status"]),
        hold_notes=tuple(str(h.get("reason_notes") or "") for h in body["fulfillment_holds"]),
        replayed=replayed,
    )


__all__ = [
    "FulfillmentOrderState",
    "ShopifyConnector",
    "ShopifyLineItem",
    "ShopifyOrder",
    "ShopifyRefund",
]
