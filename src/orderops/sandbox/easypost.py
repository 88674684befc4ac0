"""An EasyPost API v2 stand-in: verify addresses, create shipments, buy and refund postage.

Buying postage spends money and EasyPost takes no idempotency header, but a shipment can
be bought only once (``SHIPMENT.POSTAGE.EXISTS``), so the connector reads the shipment
before buying. A refund (``POST /v2/shipments/{id}/refund``) answers with the shipment and
its ``refund_status`` (``submitted``, as EasyPost's first answer usually is); asking again
for a label already refunded changes nothing and answers with that earlier refund, so the
ledger holds one ``shipment.refunded`` per label. Auth is basic auth with the API key as
user name, as EasyPost does.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from orderops.sandbox.control import SandboxControl
from orderops.sandbox.http import ApiError, basic_credentials, json_body

RATE_TABLE = (
    ("USPS", "GroundAdvantage", Decimal("5.93")),
    ("USPS", "Priority", Decimal("8.24")),
    ("UPS", "Ground", Decimal("11.40")),
)
REFUND_REQUESTED = frozenset({"submitted", "refunded"})
"""Refund statuses that stand: a repeated request for such a label is answered, not redone."""
ADDRESS_FIELDS = ("name", "street1", "street2", "city", "state", "zip", "country")


def render_easypost_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code.upper(), "message": message, "errors": []}}


class EasyPostSandbox:
    def __init__(self, *, api_key: str = "EZTK_orderops") -> None:
        self.api_key = api_key
        self.control = SandboxControl(render_error=render_easypost_error)
        self._lock = threading.RLock()
        self._shipments: dict[str, dict[str, Any]] = {}
        self._counter = 0
        self.app = self._build_app()

    def shipment(self, shipment_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._shipment(shipment_id))

    def _verify(self, body: dict[str, Any]) -> dict[str, Any]:
        address = _address(body.get("address"))
        missing = [f for f in ("street1", "city", "zip", "country") if not address.get(f)]
        deliverable = not missing and any(ch.isdigit() for ch in address["street1"])
        errors = (
            []
            if deliverable
            else [
                {"code": "E.ADDRESS.NOT_FOUND", "field": "address", "message": "Address not found"}
            ]
        )
        verifications = {"delivery": {"success": deliverable, "errors": errors}}
        with self._lock:
            return {
                "id": self._id("adr"),
                "object": "Address",
                **address,
                "verifications": verifications if body.get("verify") else {},
            }

    def _create_shipment(self, body: dict[str, Any]) -> dict[str, Any]:
        data = body.get("shipment")
        if not isinstance(data, dict):
            raise ApiError(422, "PARAMETER.REQUIRED", "Missing required parameter: shipment")
        parcel = data.get("parcel")
        if not isinstance(parcel, dict) or not parcel.get("weight"):
            raise ApiError(422, "SHIPMENT.PARCEL.WEIGHT", "Parcel weight is required")
        with self._lock:
            shipment_id = self._id("shp")
            shipment = {
                "id": shipment_id,
                "object": "Shipment",
                "reference": data.get("reference"),
                "to_address": _address(data.get("to_address")),
                "from_address": _address(data.get("from_address")),
                "parcel": dict(parcel),
                "rates": [
                    {
                        "id": self._id("rate"),
                        "shipment_id": shipment_id,
                        "carrier": carrier,
                        "service": service,
                        "rate": str(price),
                        "currency": "USD",
                    }
                    for carrier, service, price in RATE_TABLE
                ],
                "selected_rate": None,
                "tracking_code": None,
                "postage_label": None,
                "refund_status": None,
                "status": "unknown",
            }
            self._shipments[shipment_id] = shipment
            self.control.ledger.record(
                "shipment.created", shipment_id, data={"reference": shipment["reference"]}
            )
            return dict(shipment)

    def _buy(self, shipment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        rate = body.get("rate")
        rate_id = rate.get("id") if isinstance(rate, dict) else None
        with self._lock:
            shipment = self._shipment(shipment_id)
            if shipment["tracking_code"] is not None:
                raise ApiError(
                    422, "SHIPMENT.POSTAGE.EXISTS", "Postage already exists for this shipment."
                )
            chosen = next((r for r in shipment["rates"] if r["id"] == rate_id), None)
            if chosen is None:
                raise ApiError(422, "SHIPMENT.RATE.NOT_FOUND", f"Rate {rate_id} not found.")
            number = self._counter
            shipment["selected_rate"] = dict(chosen)
            shipment["tracking_code"] = f"9400100000000000{number:06d}"
            shipment["postage_label"] = {
                "id": self._id("pl"),
                "label_url": f"https://labels.sandbox.test/{shipment_id}.png",
            }
            shipment["status"] = "pre_transit"
            self.control.ledger.record(
                "shipment.bought",
                shipment_id,
                data={
                    "rate_id": chosen["id"],
                    "rate": chosen["rate"],
                    "tracking_code": shipment["tracking_code"],
                },
            )
            return dict(shipment)

    def _refund(self, shipment_id: str) -> dict[str, Any]:
        with self._lock:
            shipment = self._shipment(shipment_id)
            if shipment["tracking_code"] is None:
                raise ApiError(
                    422,
                    "SHIPMENT.REFUND.UNAVAILABLE",
                    "This shipment has no postage to refund.",
                )
            if shipment["refund_status"] in REFUND_REQUESTED:
                return dict(shipment)
            shipment["refund_status"] = "submitted"
            self.control.ledger.record(
                "shipment.refunded",
                shipment_id,
                data={
                    "tracking_code": shipment["tracking_code"],
                    "rate": shipment["selected_rate"]["rate"],
                },
            )
            return dict(shipment)

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="EasyPost sandbox", openapi_url=None)
        self.control.install(app)
        auth = [Depends(self._authenticate)]

        @app.post("/v2/addresses", dependencies=auth)
        async def create_address(request: Request) -> Response:
            return JSONResponse(self._verify(await json_body(request) or {}), status_code=201)

        @app.post("/v2/shipments", dependencies=auth)
        async def create_shipment(request: Request) -> Response:
            shipment = self._create_shipment(await json_body(request) or {})
            return JSONResponse(shipment, status_code=201)

        @app.get("/v2/shipments", dependencies=auth)
        async def list_shipments(page_size: int = 20) -> dict[str, Any]:
            with self._lock:
                newest = list(reversed(self._shipments.values()))[: max(1, min(page_size, 100))]
                return {"shipments": [dict(s) for s in newest], "has_more": False}

        @app.get("/v2/shipments/{shipment_id}", dependencies=auth)
        async def get_shipment(shipment_id: str) -> dict[str, Any]:
            return self.shipment(shipment_id)

        @app.post("/v2/shipments/{shipment_id}/buy", dependencies=auth)
        async def buy(shipment_id: str, request: Request) -> dict[str, Any]:
            return self._buy(shipment_id, await json_body(request) or {})

        @app.post("/v2/shipments/{shipment_id}/refund", dependencies=auth)
        async def refund(shipment_id: str) -> dict[str, Any]:
            return self._refund(shipment_id)

        return app

    def _authenticate(self, request: Request) -> None:
        credentials = basic_credentials(request)
        if credentials is None:
            raise ApiError(401, "APIKEY.REQUIRED", "No API key provided.")
        if credentials[0] != self.api_key:
            raise ApiError(401, "APIKEY.INACTIVE", "This api key is no longer active.")

    def _shipment(self, shipment_id: str) -> dict[str, Any]:
        shipment = self._shipments.get(shipment_id)
        if shipment is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource could not be found.")
        return shipment

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter:08d}"


def _address(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ApiError(422, "ADDRESS.REQUIRED", "An address object is required.")
    return {f: str(value.get(f) or "") for f in ADDRESS_FIELDS}
