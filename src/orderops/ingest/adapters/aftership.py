"""AfterShip tracking webhooks to shipment tracking updates.

The body is ``{"event": "tracking_update", "event_id": <uuid>, "ts": <unix>, "msg":
<Tracking>}``. ``event_id`` is the envelope id when present; older webhook versions
omit it, and then the id is derived from tracking number, tag and scan time.
Checkpoint times come in the carrier's local time and sometimes without an offset;
such a time is ambiguous, so the tracking's own ``updated_at`` is used instead.
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
    opt_text,
    opt_time,
    parse_time,
    text,
)
from orderops.ingest.signatures import verify_aftership

SOURCE = "aftership"

TAGS: dict[str, TrackingStatus] = {
    "Pending": TrackingStatus.LABEL_CREATED,
    "InfoReceived": TrackingStatus.LABEL_CREATED,
    "InTransit": TrackingStatus.IN_TRANSIT,
    "OutForDelivery": TrackingStatus.OUT_FOR_DELIVERY,
    "AttemptFail": TrackingStatus.FAILED_ATTEMPT,
    "Delivered": TrackingStatus.DELIVERED,
    "AvailableForPickup": TrackingStatus.AVAILABLE_FOR_PICKUP,
    "Exception": TrackingStatus.EXCEPTION,
    "Expired": TrackingStatus.EXCEPTION,
}
"""AfterShip's delivery status ``tag``. Expired (no news for 30 days) is an exception a
person must look at, not proof of loss."""

SUBTAG_OVERRIDES: dict[str, TrackingStatus] = {
    "Exception_010": TrackingStatus.RETURN_TO_SENDER,
    "Exception_011": TrackingStatus.RETURN_TO_SENDER,
    "Exception_013": TrackingStatus.LOST,
}
"""Sub-statuses more specific than their tag: returning / returned to sender, lost."""

TRACKING_EVENTS = frozenset({"tracking_update", "edd_revise"})
IGNORED_EVENTS = frozenset({"tracking_pending_time"})


def tracking_status(tag: str, subtag: str | None = None) -> TrackingStatus:
    if subtag and subtag in SUBTAG_OVERRIDES:
        return SUBTAG_OVERRIDES[subtag]
    try:
        return TAGS[tag]
    except KeyError:
        raise InvalidEvent(f"aftership tag {tag!r} has no mapping") from None


class AfterShipAdapter:
    source = SOURCE

    def verify(
        self, *, headers: Mapping[str, str], body: bytes, secret: str, now: datetime
    ) -> None:
        verify_aftership(headers=headers, body=body, secret=secret)

    def to_events(self, *, headers: Mapping[str, str], body: bytes) -> list[JsonObject]:
        raw = load_object(body, provider=SOURCE)
        name = text(raw, "event", where="webhook")
        if name not in TRACKING_EVENTS:
            if name in IGNORED_EVENTS:
                return []
            raise UnsupportedEvent(f"aftership event {name!r} is not supported")
        data = map_tracking(obj(raw, "msg", where="webhook"))
        event_id = opt_text(raw, "event_id") or derived_id(
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


def map_tracking(tracking: JsonObject) -> dict[str, Any]:
    where = "msg"
    checkpoints = [c for c in tracking.get("checkpoints") or [] if isinstance(c, dict)]
    latest = checkpoints[-1] if checkpoints else None
    occurred = _zoned(latest.get("checkpoint_time")) if latest else None
    if occurred is None:
        occurred = parse_time(tracking.get("updated_at"), where="msg.updated_at")
    return {
        "tracking_number": text(tracking, "tracking_number", where=where),
        "carrier": text(tracking, "slug", where=where),
        "status": tracking_status(text(tracking, "tag", where=where), opt_text(tracking, "subtag")),
        "occurred_at": occurred,
        "location": _location(latest),
        "message": opt_text(latest, "message") if latest else None,
        "estimated_delivery": _zoned(tracking.get("expected_delivery")),
    }


def _zoned(value: Any) -> datetime | None:
    """A time only when it names its zone; a bare local time is treated as unknown."""
    try:
        return opt_time(value, where="checkpoint_time")
    except InvalidEvent:
        return None


def _location(checkpoint: JsonObject | None) -> str | None:
    if checkpoint is None:
        return None
    location = opt_text(checkpoint, "location")
    if location:
        return location
    parts = [opt_text(checkpoint, k) for k in ("city", "state", "zip", "country_iso3")]
    return ", ".join(p for p in parts if p) or None
