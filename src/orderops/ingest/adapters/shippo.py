"""Shippo ``track_updated`` webhooks to shipment tracking updates.

The body is ``{"event": "track_updated", "test": ..., "data": <Track>}``. Shippo sends
no event id, so the envelope id is derived from tracking number, status and the
status date: a retry of the same scan gets the same id, a new scan a new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.domain.statuses import TrackingStatus
from orderops.ingest.adapters.common import (
    JsonObject,
    UnsupportedEvent,
    derived_id,
    event,
    load_object,
    obj,
    opt_obj,
    opt_text,
    opt_time,
    parse_time,
    text,
)
from orderops.ingest.signatures import verify_shippo

SOURCE = "shippo"

STATUSES: dict[str, TrackingStatus] = {
    "UNKNOWN": TrackingStatus.LABEL_CREATED,
    "PRE_TRANSIT": TrackingStatus.LABEL_CREATED,
    "TRANSIT": TrackingStatus.IN_TRANSIT,
    "DELIVERED": TrackingStatus.DELIVERED,
    "RETURNED": TrackingStatus.RETURN_TO_SENDER,
    "FAILURE": TrackingStatus.EXCEPTION,
}
"""Track ``status``. UNKNOWN is what Shippo reports for an electronic notice with no scan
yet (the fixture's first entries say exactly that), i.e. a label and nothing more."""

SUBSTATUS_OVERRIDES: dict[str, TrackingStatus] = {
    "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    "delivery_attempted": TrackingStatus.FAILED_ATTEMPT,
    "notice_left": TrackingStatus.FAILED_ATTEMPT,
    "pickup_available": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "return_to_sender": TrackingStatus.RETURN_TO_SENDER,
    "package_returned": TrackingStatus.RETURN_TO_SENDER,
    "package_lost": TrackingStatus.LOST,
    "package_damaged": TrackingStatus.EXCEPTION,
    "package_undeliverable": TrackingStatus.EXCEPTION,
    "address_issue": TrackingStatus.EXCEPTION,
}
"""``substatus.code`` values that say more than the top-level status."""

TRACK_EVENTS = frozenset({"track_updated"})
IGNORED_EVENTS = frozenset(
    {"transaction_created", "transaction_updated", "batch_created", "batch_purchased"}
)


def tracking_status(status: str, substatus: str | None = None) -> TrackingStatus:
    if substatus and substatus in SUBSTATUS_OVERRIDES and status != "DELIVERED":
        return SUBSTATUS_OVERRIDES[substatus]
    try:
        return STATUSES[status]
    except KeyError:
        raise InvalidEvent(f"shippo tracking status {status!r} has no mapping") from None


class ShippoAdapter:
    source = SOURCE

    def verify(
        self, *, headers: Mapping[str, str], body: bytes, secret: str, now: datetime
    ) -> None:
        verify_shippo(headers=headers, body=body, secret=secret, now=now)

    def to_events(self, *, headers: Mapping[str, str], body: bytes) -> list[JsonObject]:
        raw = load_object(body, provider=SOURCE)
        name = text(raw, "event", where="webhook")
        if name not in TRACK_EVENTS:
            if name in IGNORED_EVENTS:
                return []
            raise UnsupportedEvent(f"shippo event {name!r} is not supported")
        data = map_track(obj(raw, "data", where="webhook"))
        event_id = derived_id(
            SOURCE, data["tracking_number"], str(data["status"]), data["occurred_at"].isoformat()
        )
        return [
            event(
                source=SOURCE,
                event_id=event_id,
                type_=EventType.SHIPMENT_TRACKING,
                time=data["occurred_at"],
                subject=data["tracking_number"],
                data=data,
            )
        ]


def map_track(track: JsonObject) -> dict[str, Any]:
    where = "data"
    current = obj(track, "tracking_status", where=where)
    status = text(current, "status", where="data.tracking_status").upper()
    substatus = opt_obj(current, "substatus")
    occurred = parse_time(
        current.get("status_date") or current.get("object_updated"),
        where="data.tracking_status.status_date",
    )
    return {
        "tracking_number": text(track, "tracking_number", where=where),
        "carrier": text(track, "carrier", where=where),
        "status": tracking_status(status, opt_text(substatus, "code") if substatus else None),
        "occurred_at": occurred,
        "location": _location(opt_obj(current, "location")),
        "message": opt_text(current, "status_details"),
        "estimated_delivery": opt_time(track.get("eta"), where="data.eta"),
    }


def _location(place: JsonObject | None) -> str | None:
    if place is None:
        return None
    parts = [opt_text(place, k) for k in ("city", "state", "zip", "country")]
    return ", ".join(p for p in parts if p) or None
