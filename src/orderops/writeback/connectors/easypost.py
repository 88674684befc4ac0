"""EasyPost: verify an address, create a shipment, buy its postage once, refund it once.

EasyPost has no idempotency header; buying is guarded by the shipment itself: the
connector reads the shipment first and returns the label already bought, and if a
concurrent buy wins the race (``SHIPMENT.POSTAGE.EXISTS``) it reads the shipment again.
Refunding is guarded the same way: a shipment whose ``refund_status`` already stands
(submitted or refunded) is returned as it is, marked ``replayed``, without asking again.
Creating an unbought shipment costs nothing, so a duplicate there is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import httpx

from orderops.writeback.connectors.base import PermanentError
from orderops.writeback.connectors.transport import (
    ApiClient,
    ConnectorBase,
    ConnectorOptions,
    ProviderError,
)

SYSTEM = "easypost"
POSTAGE_EXISTS = "SHIPMENT.POSTAGE.EXISTS"
REFUND_STANDS = frozenset({"submitted", "refunded"})
"""Refund statuses after which asking again would only repeat the request ("rejected" and
"not_applicable" may be asked again, as EasyPost's guide allows)."""


@dataclass(frozen=True)
class AddressVerification:
    id: str
    deliverable: bool
    errors: tuple[str, ...]


@dataclass(frozen=True)
class Rate:
    id: str
    carrier: str
    service: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Shipment:
    id: str
    rates: tuple[Rate, ...]
    selected_rate_id: str | None
    tracking_code: str | None
    label_url: str | None
    refund_status: str | None = None
    replayed: bool = False
    reference: str | None = None


def parse_easypost_error(response: httpx.Response) -> ProviderError:
    try:
        error = response.json().get("error", {})
        return ProviderError(error.get("code"), str(error.get("message")))
    except (ValueError, AttributeError):
        return ProviderError(None, response.text[:200])


class EasyPostConnector(ConnectorBase):
    def __init__(self, *, base_url: str, api_key: str, options: ConnectorOptions) -> None:
        self._api = ApiClient(
            system=SYSTEM,
            base_url=base_url,
            options=options,
            parse_error=parse_easypost_error,
            auth=(api_key, ""),
        )

    def verify_address(self, address: dict[str, str]) -> AddressVerification:
        payload = {"address": address, "verify": ["delivery"]}
        body = self._api.run(lambda: self._api.request_json("POST", "/v2/addresses", json=payload))
        delivery = body.get("verifications", {}).get("delivery", {})
        return AddressVerification(
            id=str(body["id"]),
            deliverable=bool(delivery.get("success")),
            errors=tuple(str(e.get("message")) for e in delivery.get("errors", [])),
        )

    def create_shipment(
        self,
        *,
        to_address: dict[str, str],
        from_address: dict[str, str],
        parcel: dict[str, float],
        reference: str,
    ) -> Shipment:
        payload = {
            "shipment": {
                "to_address": to_address,
                "from_address": from_address,
                "parcel": parcel,
                "reference": reference,
            }
        }
        body = self._api.run(lambda: self._api.request_json("POST", "/v2/shipments", json=payload))
        return _shipment(body)

    def buy(self, *, shipment_id: str, rate_id: str, idempotency_key: str) -> Shipment:
        """Buy postage once; ``idempotency_key`` names the attempt in logs, the shipment guards."""

        def attempt() -> Shipment:
            current = self._get(shipment_id)
            if current.tracking_code is not None:
                return replace(current, replayed=True)
            try:
                path = f"/v2/shipments/{shipment_id}/buy"
                return _shipment(
                    self._api.request_json("POST", path, json={"rate": {"id": rate_id}})
                )
            except PermanentError as error:
                if error.provider_code != POSTAGE_EXISTS:
                    raise
                return replace(self._get(shipment_id), replayed=True)

        return self._api.run(attempt)

    def refund_label(self, *, shipment_id: str, idempotency_key: str) -> Shipment:
        """Ask for the label's postage back once (``POST /v2/shipments/{id}/refund``).

        A label whose refund already stands is not asked for again: the shipment comes
        back as it is, ``replayed``, reporting that earlier refund. ``idempotency_key``
        names the attempt in logs; the shipment's refund status is the guard.
        """

        def attempt() -> Shipment:
            current = self._get(shipment_id)
            if current.refund_status in REFUND_STANDS:
                return replace(current, replayed=True)
            path = f"/v2/shipments/{shipment_id}/refund"
            return _shipment(self._api.request_json("POST", path))

        return self._api.run(attempt)

    def find_shipments(self, reference: str, *, page_size: int = 100) -> list[Shipment]:
        """Recent shipments carrying ``reference`` (``GET /v2/shipments``, newest first).

        EasyPost cannot replay a create by key, so a shipment is created with the key as its
        reference and looked for here before creating another.
        """
        params = {"page_size": str(page_size)}
        body = self._api.run(lambda: self._api.request_json("GET", "/v2/shipments", params=params))
        return [_shipment(item) for item in body["shipments"] if item.get("reference") == reference]

    def get_shipment(self, shipment_id: str) -> Shipment:
        return self._api.run(lambda: self._get(shipment_id))

    def _get(self, shipment_id: str) -> Shipment:
        return _shipment(self._api.request_json("GET", f"/v2/shipments/{shipment_id}"))


def _shipment(body: dict[str, Any]) -> Shipment:
    selected = body.get("selected_rate") or {}
    label = body.get("postage_label") or {}
    return Shipment(
        id=str(body["id"]),
        rates=tuple(
            Rate(
                id=str(r["id"]),
                carrier=str(r["carrier"]),
                service=str(r["service"]),
                amount=Decimal(str(r["rate"])),
                currency=str(r["currency"]),
            )
            for r in body.get("rates", [])
        ),
        selected_rate_id=selected.get("id"),
        tracking_code=body.get("tracking_code"),
        label_url=label.get("label_url"),
        refund_status=body.get("refund_status"),
        reference=body.get("reference"),
    )
