"""CRM: customer notes and store credit, keyed by Idempotency-Key like the WMS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from orderops.writeback.connectors.transport import ApiClient, ConnectorBase, ConnectorOptions
from orderops.writeback.connectors.wms import parse_error_object

SYSTEM = "crm"


@dataclass(frozen=True)
class CustomerNote:
    id: str
    customer_id: str
    body: str
    replayed: bool = False


@dataclass(frozen=True)
class StoreCredit:
    id: str
    customer_id: str
    amount_minor: int
    currency: str
    reason: str
    replayed: bool = False


@dataclass(frozen=True)
class CustomerAccount:
    id: str
    email: str
    store_credit_balance: dict[str, int]


class CrmConnector(ConnectorBase):
    def __init__(self, *, base_url: str, api_token: str, options: ConnectorOptions) -> None:
        self._api = ApiClient(
            system=SYSTEM,
            base_url=base_url,
            options=options,
            parse_error=parse_error_object,
            headers={"Authorization": f"Bearer {api_token}"},
        )

    def add_note(
        self, *, customer_id: str, body: str, idempotency_key: str, author: str = "orderops"
    ) -> CustomerNote:
        payload = {"body": body, "author": author}
        response = self._post(f"/v1/customers/{customer_id}/notes", payload, idempotency_key)
        data = self._api.body(response)
        return CustomerNote(
            id=str(data["id"]),
            customer_id=str(data["customer_id"]),
            body=str(data["body"]),
            replayed=_replayed(response),
        )

    def issue_store_credit(
        self,
        *,
        customer_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        reason: str = "",
    ) -> StoreCredit:
        payload = {"amount_minor": amount_minor, "currency": currency, "reason": reason}
        path = f"/v1/customers/{customer_id}/store_credits"
        response = self._post(path, payload, idempotency_key)
        return _credit(self._api.body(response), _replayed(response))

    def get_customer(self, customer_id: str) -> CustomerAccount:
        body = self._api.run(lambda: self._api.request_json("GET", f"/v1/customers/{customer_id}"))
        return CustomerAccount(
            id=str(body["id"]),
            email=str(body["email"]),
            store_credit_balance={str(k): int(v) for k, v in body["store_credit_balance"].items()},
        )

    def find_customers(self, email: str) -> list[CustomerAccount]:
        """Customers with this email (``GET /v1/customers?email=``): how an order's buyer is
        found in the CRM, which keeps its own customer ids."""
        body = self._api.run(
            lambda: self._api.request_json("GET", "/v1/customers", params={"email": email})
        )
        return [
            CustomerAccount(
                id=str(item["id"]),
                email=str(item["email"]),
                store_credit_balance={
                    str(k): int(v) for k, v in (item.get("store_credit_balance") or {}).items()
                },
            )
            for item in body["data"]
        ]

    def list_store_credits(self, customer_id: str) -> list[StoreCredit]:
        path = f"/v1/customers/{customer_id}/store_credits"
        body = self._api.run(lambda: self._api.request_json("GET", path))
        return [_credit(item, False) for item in body["data"]]

    def _post(self, path: str, payload: dict[str, Any], idempotency_key: str) -> httpx.Response:
        headers = {"Idempotency-Key": idempotency_key}
        return self._api.run(lambda: self._api.request("POST", path, json=payload, headers=headers))


def _replayed(response: httpx.Response) -> bool:
    return str(response.headers.get("idempotent-replayed", "")).lower() == "true"


def _credit(body: dict[str, Any], replayed: bool) -> StoreCredit:
    return StoreCredit(
        id=str(body["id"]),
        customer_id=str(body["customer_id"]),
        amount_minor=int(body["amount_minor"]),
        currency=str(body["currency"]),
        reason=str(body.get("reason") or ""),
        replayed=replayed,
    )
