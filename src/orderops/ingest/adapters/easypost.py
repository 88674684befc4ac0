"""EasyPost ``tracker.*`` Events to shipment tracking updates.

EasyPost posts an Event whose ``result`` is the Tracker. The tracking time is the
latest scan's ``datetime`` (falling back to the tracker's ``updated_at``), so a late
retry of an older scan cannot overwrite a newer state downstream.
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
    event,
    load_object,
    obj,
    opt_obj,
    opt_text,
    opt_time,
    parse_time,
    text,
)
from orderops.ingest.signatures import verify_easypost

SOURCE = "easypost"

STATUSES: dict[str, TrackingStatus] = {
    "unknown": TrackingStatus.LABEL_CREATED,
    "pre_transit": TrackingStatus.LABEL_CREATED,
    "in_transit": TrackingStatus.IN_TRANSIT,
    "out_for_delivery": TrackingStatus.OUT_FOR_DELIVERY,
    "delivered": TrackingStatus.DELIVERED,
    "available_for_pickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "return_to_sender": TrackingStatus.RETURN_TO_SENDER,
    "failure": TrackingStatus.EXCEPTION,
    "cancelled": TrackingStatus.EXCEPTION,
    "error": TrackingStatus.EXCEPTION,
}
"""Tracker ``status`` to our vocabulary. ``unknown`` is what EasyPost reports before the
first carrier scan, which for a purchased label means the label exists and nothing more."""

STATUS_DETAIL_OVERRIDES: dict[str, TrackingStatus] = {
    "lost": TrackingStatus.LOST,
    "return": TrackingStatus.RETURN_TO_SENDER,
    "arrived_at_pickup_location": TrackingStatus.AVAILABLE_FOR_PICKUP,
}
"""``status_detail`` values more specific than their ``status`` (e.g. failure + lost)."""

TRACKER_EVENTS = frozenset({"tracker.created", "tracker.updated"})
IGNORED_PREFIXES = (
    "batch.",
    "shipment.",
    "insurance.",
    "payment.",
    "refund.",
    "report.",
    "scan_form.",
)


def tracking_status(status: str, detail: str | None = None) -> TrackingStatus:
    """Map EasyPost's (status, status_detail) pair; an unknown status is refused."""
    if detail and detail in STATUS_DETAIL_OVERRIDES and status != "delivered":
        return STATUS_DETAIL_OVERRIDES[detail]
    try:
        return STATUSES[status]
    except KeyError:
        raise InvalidEvent(f"easypost tracker status {status!r} has no mapping") from None


class EasyPostAdapter:
    source = SOURCE

    def verify(
        self, *, headers: Mapping[str, str], body: bytes, secret: str, now: datetime
    ) -> None:
        verify_easypost(headers=headers, body=body, secret=secret)

    def to_events(self, *, headers: Mapping[str, str], body: bytes) -> list[JsonObject]:
        raw = load_object(body, provider=SOURCE)
        description = text(raw, "description", where="event")
        if description not in TRACKER_EVENTS:
            if description.startswith(IGNORED_PREFIXES):
                return []
            raise UnsupportedEvent(f"easypost event {description!r} is not supported")
        event_id = text(raw, "id", where="event")
        tracker = obj(raw, "result", where="event")
        data = map_tracker(tracker)
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


def map_tracker(tracker: JsonObject) -> dict[str, Any]:
    where = "result"
    status = text(tracker, "status", where=where).lower()
    latest = _latest_detail(tracker)
    occurred = (
        opt_time(latest.get("datetime"), where="tracking_details.datetime") if latest else None
    )
    if occurred is None:
        occurred = parse_time(tracker.get("updated_at"), where="result.updated_at")
    return {
        "tracking_number": text(tracker, "tracking_code", where=where),
        "carrier": opt_text(tracker, "carrier") or "unknown",
        "status": tracking_status(status, opt_text(tracker, "status_detail")),
        "occurred_at": occurred,
        "location": _location(latest),
        "message": opt_text(latest, "message") if latest else None,
        "estimated_delivery": opt_time(
            tracker.get("est_delivery_date"), where="result.est_delivery_date"
        ),
    }


def _latest_detail(tracker: JsonObject) -> JsonObject | None:
    details = [d for d in tracker.get("tracking_details") or [] if isinstance(d, dict)]
    dated = [d for d in details if d.get("datetime")]
    if not dated:
        return None
    return max(dated, key=lambda d: parse_time(d.get("datetime"), where="tracking_details"))


def _location(detail: JsonObject | None) -> str | None:
    place = opt_obj(detail, "tracking_location") if detail else None
    if place is None:
        return None
    parts = [opt_text(place, k) for k in ("city", "state", "zip", "country")]
    return ", ".join(p for p in parts if p) or None
