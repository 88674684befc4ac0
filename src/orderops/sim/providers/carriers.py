"""Tracking webhooks from EasyPost, Shippo and AfterShip, one per carrier scan.

Each delivery carries the whole history so far, as these services do. They name the
tracking code (equal to the one on the Shopify fulfillment) and their own tracker or
shipment id, never the order; and each spells the carrier its own way ("UPS" at
Shopify and EasyPost, "ups" at Shippo and AfterShip, "DHL Express" / "DHLExpress" /
"dhl_express" / "dhl").

Shapes follow tests/fixtures/easypost/examples/fixtures__event-body.json, the Shippo Track
in tests/fixtures/shippo and the AfterShip tracking in tests/fixtures/aftership.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta, timezone
from typing import Any

from orderops.sim.providers.story import OrderStory, ParcelStory, Scan, ScanStory
from orderops.sim.providers.wire import Draft, unix, utc

EASYPOST_CARRIER = {"UPS": "UPS", "USPS": "USPS", "FedEx": "FedEx", "DHL Express": "DHLExpress"}
SLUG = {"UPS": "ups", "USPS": "usps", "FedEx": "fedex", "DHL Express": "dhl"}
SHIPPO_CARRIER = {"UPS": "ups", "USPS": "usps", "FedEx": "fedex", "DHL Express": "dhl_express"}

EASYPOST_STATUS: dict[Scan, tuple[str, str]] = {
    Scan.LABEL: ("pre_transit", "label_created"),
    Scan.IN_TRANSIT: ("in_transit", "arrived_at_facility"),
    Scan.OUT_FOR_DELIVERY: ("out_for_delivery", "out_for_delivery"),
    Scan.DELIVERED: ("delivered", "arrived_at_destination"),
    Scan.FAILED_ATTEMPT: ("failure", "delivery_exception"),
    Scan.EXCEPTION: ("failure", "damaged"),
    Scan.LOST: ("failure", "lost"),
}
SHIPPO_STATUS: dict[Scan, tuple[str, str]] = {
    Scan.LABEL: ("PRE_TRANSIT", "information_received"),
    Scan.IN_TRANSIT: ("TRANSIT", "package_accepted"),
    Scan.OUT_FOR_DELIVERY: ("TRANSIT", "out_for_delivery"),
    Scan.DELIVERED: ("DELIVERED", "delivered"),
    Scan.FAILED_ATTEMPT: ("TRANSIT", "delivery_attempted"),
    Scan.EXCEPTION: ("FAILURE", "package_damaged"),
    Scan.LOST: ("FAILURE", "package_lost"),
}
AFTERSHIP_TAG: dict[Scan, tuple[str, str, str]] = {
    Scan.LABEL: ("InfoReceived", "InfoReceived_001", "Info Received"),
    Scan.IN_TRANSIT: ("InTransit", "InTransit_001", "In Transit"),
    Scan.OUT_FOR_DELIVERY: ("OutForDelivery", "OutForDelivery_001", "Out for Delivery"),
    Scan.DELIVERED: ("Delivered", "Delivered_001", "Delivered"),
    Scan.FAILED_ATTEMPT: ("AttemptFail", "AttemptFail_001", "Failed Attempt"),
    Scan.EXCEPTION: ("Exception", "Exception_004", "Damaged"),
    Scan.LOST: ("Exception", "Exception_013", "Lost"),
}
_CARRIER_ZONE = timezone(timedelta(hours=-5))
"""AfterShip writes checkpoint times in the carrier's local time, with its offset."""


class CarrierRenderer:
    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def _hex(self, size: int) -> str:
        return "".join(self._rng.choice("0123456789abcdef") for _ in range(size))

    def drafts(self, order: OrderStory) -> list[Draft]:
        parcel = order.parcel
        if parcel is None:
            return []
        render = {"easypost": self._easypost, "shippo": self._shippo, "aftership": self._aftership}
        out = []
        for index, scan in enumerate(parcel.scans):
            provider, body, latency = render[parcel.tracker](parcel, index)
            tags = (
                ("carrier_case",)
                if provider != "easypost" or parcel.carrier == "DHL Express"
                else ()
            )
            out.append(
                Draft(
                    scan.at,
                    provider,
                    {"Content-Type": "application/json"},
                    body,
                    f"parcel:{parcel.tracking}",
                    order.order_id,
                    latency,
                    tags,
                )
            )
        return out

    def _easypost(
        self, parcel: ParcelStory, index: int
    ) -> tuple[str, dict[str, Any], tuple[float, float]]:
        scans = parcel.scans[: index + 1]
        status, detail = EASYPOST_STATUS[scans[-1].status]
        previous = EASYPOST_STATUS[scans[-2].status][0] if index else None
        now = scans[-1].at + timedelta(seconds=40)
        tracker = {
            "id": parcel.tracker_ref,
            "object": "Tracker",
            "mode": "production",
            "tracking_code": parcel.tracking,
            "status": status,
            "status_detail": detail,
            "created_at": utc(parcel.scans[0].at),
            "updated_at": utc(now),
            "signed_by": None,
            "weight": None,
            "est_delivery_date": utc(parcel.estimated_delivery),
            "shipment_id": parcel.shipment_ref,
            "carrier": EASYPOST_CARRIER[parcel.carrier],
            "tracking_details": [
                {
                    "object": "TrackingDetail",
                    "message": s.message,
                    "description": s.message,
                    "status": EASYPOST_STATUS[s.status][0],
                    "status_detail": EASYPOST_STATUS[s.status][1],
                    "datetime": utc(s.at),
                    "source": EASYPOST_CARRIER[parcel.carrier],
                    "carrier_code": "",
                    "tracking_location": {
                        "object": "TrackingLocation",
                        "city": s.city.upper(),
                        "state": s.state,
                        "country": "US",
                        "zip": s.zip,
                    },
                }
                for s in scans
            ],
            "carrier_detail": {
                "object": "CarrierDetail",
                "service": parcel.service,
                "container_type": None,
                "est_delivery_date_local": None,
                "est_delivery_time_local": None,
            },
            "finalized": status == "delivered",
            "is_return": False,
            "public_url": f"https://track.easypost.com/{parcel.tracker_ref[4:]}",
            "fees": [],
        }
        body = {
            "description": "tracker.created" if index == 0 else "tracker.updated",
            "mode": "production",
            "previous_attributes": {"status": previous} if previous else {},
            "created_at": utc(now),
            "pending_urls": ["https://desk.example/v1/webhooks/easypost"],
            "completed_urls": [],
            "updated_at": utc(now),
            "id": "evt_" + self._hex(32),
            "user_id": "user_9f1c2e0b7a6d4c3e8b5a1f2d3c4b5a69",
            "status": "pending",
            "object": "Event",
            "result": tracker,
        }
        return "easypost", body, (5.0, 90.0)

    def _shippo(
        self, parcel: ParcelStory, index: int
    ) -> tuple[str, dict[str, Any], tuple[float, float]]:
        scans = parcel.scans[: index + 1]

        def status(s: ScanStory) -> dict[str, Any]:
            code, sub = SHIPPO_STATUS[s.status]
            return {
                "object_created": utc(s.at + timedelta(minutes=3)),
                "object_updated": utc(s.at + timedelta(minutes=3)),
                "object_id": self._hex(32),
                "status": code,
                "substatus": {
                    "code": sub,
                    "text": s.message,
                    "action_required": s.status in (Scan.FAILED_ATTEMPT, Scan.LOST),
                },
                "status_details": s.message,
                "status_date": utc(s.at),
                "location": {"city": s.city, "state": s.state, "zip": s.zip, "country": "US"},
            }

        origin, destination = parcel.scans[0], parcel.scans[-1]
        track = {
            "carrier": SHIPPO_CARRIER[parcel.carrier],
            "tracking_number": parcel.tracking,
            "address_from": {
                "city": origin.city,
                "state": origin.state,
                "zip": origin.zip,
                "country": "US",
            },
            "address_to": {
                "city": destination.city,
                "state": destination.state,
                "zip": destination.zip,
                "country": "US",
            },
            "transaction": None,
            "original_eta": utc(parcel.estimated_delivery),
            "eta": utc(parcel.estimated_delivery),
            "servicelevel": {
                "token": f"{SHIPPO_CARRIER[parcel.carrier]}_{parcel.service.lower()}",
                "name": parcel.service,
            },
            "metadata": None,
            "tracking_status": status(scans[-1]),
            "tracking_history": [status(s) for s in scans],
            "messages": [],
        }
        return "shippo", {"event": "track_updated", "test": False, "data": track}, (10.0, 120.0)

    def _aftership(
        self, parcel: ParcelStory, index: int
    ) -> tuple[str, dict[str, Any], tuple[float, float]]:
        scans = parcel.scans[: index + 1]
        tag, subtag, message = AFTERSHIP_TAG[scans[-1].status]
        slug = SLUG[parcel.carrier]
        checkpoints = [
            {
                "slug": slug,
                "city": s.city,
                "created_at": utc(s.at + timedelta(minutes=5)).replace("Z", "+00:00"),
                "location": f"{s.city}, {s.state}, {s.zip}, USA",
                "country_name": "USA",
                "message": s.message,
                "country_iso3": "USA",
                "tag": AFTERSHIP_TAG[s.status][0],
                "subtag": AFTERSHIP_TAG[s.status][1],
                "subtag_message": AFTERSHIP_TAG[s.status][2],
                "checkpoint_time": s.at.astimezone(_CARRIER_ZONE).isoformat(timespec="seconds"),
                "coordinates": [],
                "state": s.state,
                "zip": s.zip,
                "raw_tag": "",
            }
            for s in scans
        ]
        now = scans[-1].at + timedelta(minutes=5)
        tracking = {
            "id": parcel.tracker_ref,
            "created_at": utc(parcel.scans[0].at).replace("Z", "+00:00"),
            "updated_at": utc(now).replace("Z", "+00:00"),
            "last_updated_at": utc(now).replace("Z", "+00:00"),
            "tracking_number": parcel.tracking,
            "slug": slug,
            "active": tag not in ("Delivered", "Exception"),
            "custom_fields": None,
            "customer_name": None,
            "destination_country_iso3": "USA",
            "emails": [],
            "expected_delivery": parcel.estimated_delivery.astimezone(_CARRIER_ZONE).isoformat(
                timespec="seconds"
            ),
            "note": None,
            "order_id": None,
            "order_id_path": None,
            "order_number": None,
            "origin_country_iso3": "USA",
            "shipment_package_count": 1,
            "shipment_type": parcel.service,
            "signed_by": None,
            "source": "api",
            "tag": tag,
            "subtag": subtag,
            "subtag_message": message,
            "title": parcel.tracking,
            "tracked_count": index + 1,
            "android": [],
            "ios": [],
            "smses": [],
            "subscribed_emails": [],
            "subscribed_smses": [],
            "courier_destination_country_iso3": "USA",
            "delivery_time": None,
            "delivery_type": None,
            "first_attempted_at": None,
            "language": None,
            "last_mile_tracking_supported": None,
            "order_date": None,
            "order_promised_delivery_date": None,
            "pickup_location": None,
            "pickup_note": None,
            "return_to_sender": False,
            "shipment_pickup_date": None,
            "shipment_delivery_date": None,
            "shipment_weight": None,
            "shipment_weight_unit": None,
            "unique_token": "deprecated",
            "checkpoints": checkpoints,
        }
        event_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        body = {
            "event": "tracking_update",
            "event_id": event_id,
            "is_tracking_first_tag": index == 0,
            "ts": unix(now),
            "msg": tracking,
        }
        return "aftership", body, (10.0, 180.0)
