"""EasyPost, Shippo and AfterShip tracking webhooks become shipment.tracking events."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.domain.statuses import TrackingStatus
from orderops.ingest.adapters import ADAPTERS, UnsupportedEvent, aftership, easypost, shippo
from orderops.ingest.envelope import CanonicalEvent, parse_event

FIXTURES = Path(__file__).parents[1] / "fixtures"
EASYPOST = FIXTURES / "easypost" / "examples"
SHIPPO = FIXTURES / "shippo" / "shippo-python-client"
AFTERSHIP = FIXTURES / "aftership" / "aftership-sdk-java"
TS = TrackingStatus


def convert(source: str, raw: dict[str, Any] | bytes) -> list[CanonicalEvent]:
    body = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    events = ADAPTERS[source].to_events(headers={}, body=body)
    return [parse_event(json.loads(json.dumps(e)), tenant_id="t1") for e in events]


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def tracking(event: CanonicalEvent) -> dict[str, Any]:
    assert event.type is EventType.SHIPMENT_TRACKING
    return event.payload.model_dump()


# --- EasyPost -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "fixtures__event-body.json",
        "guides__tracking-guide__json__tracking-webhook.json",
        "landing_pages__tracking_webhooks__tracking_webhook_response.json",
    ],
)
def test_easypost_tracker_events_map_to_their_latest_scan(name: str) -> None:
    raw = load(EASYPOST / name)
    tracker = raw["result"]
    latest = max(tracker["tracking_details"], key=lambda d: datetime.fromisoformat(d["datetime"]))

    (event,) = convert("easypost", raw)
    data = tracking(event)

    assert event.envelope.id == raw["id"]
    assert data["tracking_number"] == tracker["tracking_code"]
    assert data["carrier"] == tracker["carrier"]
    assert data["status"] is easypost.STATUSES[tracker["status"]]
    assert data["occurred_at"] == datetime.fromisoformat(latest["datetime"])
    assert data["message"] == latest["message"]
    assert event.envelope.time == data["occurred_at"]


def test_easypost_non_tracker_events_are_recognised_and_ignored() -> None:
    assert (
        convert(
            "easypost", load(EASYPOST / "guides__webhooks-guide__event__post_json_example.json")
        )
        == []
    )


@pytest.mark.parametrize(
    "name",
    [
        "guides__webhooks-guide__event__event_example.json",
        "docs__responses__events__events-retrieve.json",
    ],
)
def test_easypost_tracker_events_without_the_tracker_are_refused(name: str) -> None:
    with pytest.raises(InvalidEvent, match=r"event\.result is missing"):
        convert("easypost", load(EASYPOST / name))


@pytest.mark.parametrize(("status", "expected"), sorted(easypost.STATUSES.items()))
def test_easypost_status_table(status: str, expected: TrackingStatus) -> None:
    raw = load(EASYPOST / "fixtures__event-body.json")
    raw["result"].update(status=status, status_detail="unknown")

    (event,) = convert("easypost", raw)

    assert tracking(event)["status"] is expected


@pytest.mark.parametrize(
    ("status", "detail", "expected"),
    [
        ("failure", "lost", TS.LOST),
        ("failure", "return", TS.RETURN_TO_SENDER),
        ("in_transit", "arrived_at_pickup_location", TS.AVAILABLE_FOR_PICKUP),
        ("delivered", "lost", TS.DELIVERED),
        ("in_transit", "arrived_at_facility", TS.IN_TRANSIT),
    ],
)
def test_easypost_status_detail_refines_the_status(
    status: str, detail: str, expected: TrackingStatus
) -> None:
    assert easypost.tracking_status(status, detail) is expected


def test_easypost_unknown_status_is_refused_not_guessed() -> None:
    raw = load(EASYPOST / "fixtures__event-body.json")
    raw["result"]["status"] = "teleported"

    with pytest.raises(InvalidEvent, match="teleported"):
        convert("easypost", raw)


def test_easypost_unknown_event_is_unsupported() -> None:
    raw = load(EASYPOST / "fixtures__event-body.json")
    raw["description"] = "pickup.created"

    with pytest.raises(UnsupportedEvent, match=r"pickup\.created"):
        convert("easypost", raw)


# --- Shippo ---------------------------------------------------------------------------


def shippo_webhook(track: dict[str, Any]) -> dict[str, Any]:
    """Shippo's track_updated body: the Track object under ``data``."""
    return {"event": "track_updated", "test": True, "data": track}


@pytest.mark.parametrize(
    "name",
    ["track__test_get_status.response.decoded.json", "track__test_create.response.decoded.json"],
)
def test_shippo_track_maps_to_its_current_status(name: str) -> None:
    track = load(SHIPPO / name)
    current = track["tracking_status"]

    (event,) = convert("shippo", shippo_webhook(track))
    data = tracking(event)

    assert data["tracking_number"] == track["tracking_number"]
    assert data["carrier"] == track["carrier"]
    assert data["status"] is TS.DELIVERED
    assert data["occurred_at"] == datetime.fromisoformat(current["status_date"])
    assert data["message"] == current["status_details"]
    assert data["location"] == "Berkeley, CA, 94705, US"


def test_shippo_ids_are_stable_per_scan_and_differ_between_scans() -> None:
    track = load(SHIPPO / "track__test_get_status.response.decoded.json")
    first = convert("shippo", shippo_webhook(track))[0].envelope.id
    again = convert("shippo", shippo_webhook(track))[0].envelope.id
    earlier = track["tracking_history"][2]
    track["tracking_status"] = earlier

    other = convert("shippo", shippo_webhook(track))[0]

    assert first == again
    assert other.envelope.id != first
    assert tracking(other)["status"] is TS.IN_TRANSIT


@pytest.mark.parametrize(("status", "expected"), sorted(shippo.STATUSES.items()))
def test_shippo_status_table(status: str, expected: TrackingStatus) -> None:
    assert shippo.tracking_status(status) is expected


@pytest.mark.parametrize(("substatus", "expected"), sorted(shippo.SUBSTATUS_OVERRIDES.items()))
def test_shippo_substatus_table(substatus: str, expected: TrackingStatus) -> None:
    track = load(SHIPPO / "track__test_get_status.response.decoded.json")
    track["tracking_status"].update(status="TRANSIT", substatus={"code": substatus})

    (event,) = convert("shippo", shippo_webhook(track))

    assert tracking(event)["status"] is expected


def test_shippo_other_events_are_ignored_and_unknown_ones_unsupported() -> None:
    assert convert("shippo", {"event": "transaction_created", "data": {}}) == []
    with pytest.raises(UnsupportedEvent, match="label_exploded"):
        convert("shippo", {"event": "label_exploded", "data": {}})


def test_shippo_track_without_tracking_number_is_refused() -> None:
    track = load(SHIPPO / "track__test_get_status.response.decoded.json")
    del track["tracking_number"]

    with pytest.raises(InvalidEvent, match=r"data\.tracking_number is missing"):
        convert("shippo", shippo_webhook(track))


# --- AfterShip ------------------------------------------------------------------------


def aftership_trackings() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(AFTERSHIP.glob("*.json")):
        data = load(path)["data"]
        for item in data.get("trackings") or [data["tracking"]]:
            found.append((f"{path.stem}:{item['id']}", item))
    return found


def aftership_webhook(msg: dict[str, Any], event_id: str | None = "evt-1") -> dict[str, Any]:
    body: dict[str, Any] = {"event": "tracking_update", "ts": 1534486010, "msg": msg}
    if event_id:
        body["event_id"] = event_id
    return body


EXPECTED_AFTERSHIP = {
    "CreateTrackingResult:5b766a5cc7c33c0e007de3c9": TS.LABEL_CREATED,
    "GetTrackingResult:5b7658cec7c33c0e007de3c5": TS.DELIVERED,
    "GetTrackingsResult:5b74f4958776db0e00b6f5ed": TS.DELIVERED,
    "GetTrackingsResult:5b0516676a810a1400eb5c1c": TS.EXCEPTION,
    "GetTrackingsResult:5b04e2cbd560281400b70284": TS.EXCEPTION,
    "MarkAsCompletedResult:5b7658cec7c33c0e007de3c5": TS.LOST,
    "UpdateTrackingResult:5b74f4958776db0e00b6f5ed": TS.DELIVERED,
}


def test_every_stored_aftership_tracking_has_an_expectation() -> None:
    assert {key for key, _ in aftership_trackings()} == set(EXPECTED_AFTERSHIP)


@pytest.mark.parametrize(
    ("key", "msg"), aftership_trackings(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_aftership_trackings_map_to_the_expected_status(key: str, msg: dict[str, Any]) -> None:
    (event,) = convert("aftership", aftership_webhook(msg))
    data = tracking(event)

    assert data["status"] is EXPECTED_AFTERSHIP[key]
    assert data["tracking_number"] == msg["tracking_number"]
    assert data["carrier"] == msg["slug"]
    assert event.envelope.id == "evt-1"


def test_aftership_uses_the_latest_zoned_checkpoint_time() -> None:
    msg = load(AFTERSHIP / "GetTrackingResult.json")["data"]["tracking"]
    last = msg["checkpoints"][-1]

    (event,) = convert("aftership", aftership_webhook(msg))

    assert tracking(event)["occurred_at"] == datetime.fromisoformat(last["checkpoint_time"])
    assert tracking(event)["message"] == last["message"]


def test_aftership_falls_back_to_updated_at_when_the_scan_time_has_no_zone() -> None:
    msg = load(AFTERSHIP / "UpdateTrackingResult.json")["data"]["tracking"]
    assert datetime.fromisoformat(msg["checkpoints"][-1]["checkpoint_time"]).tzinfo is None

    (event,) = convert("aftership", aftership_webhook(msg))

    assert tracking(event)["occurred_at"] == datetime.fromisoformat(msg["updated_at"])


def test_aftership_without_event_id_derives_a_stable_one() -> None:
    msg = load(AFTERSHIP / "GetTrackingResult.json")["data"]["tracking"]

    first = convert("aftership", aftership_webhook(msg, event_id=None))[0].envelope.id
    again = convert("aftership", aftership_webhook(msg, event_id=None))[0].envelope.id
    msg["tag"], msg["subtag"] = "Exception", "Exception_001"
    changed = convert("aftership", aftership_webhook(msg, event_id=None))[0].envelope.id

    assert first == again
    assert first.startswith("aftership-")
    assert changed != first


@pytest.mark.parametrize(("tag", "expected"), sorted(aftership.TAGS.items()))
def test_aftership_tag_table(tag: str, expected: TrackingStatus) -> None:
    assert aftership.tracking_status(tag, f"{tag}_001") is expected


@pytest.mark.parametrize(("subtag", "expected"), sorted(aftership.SUBTAG_OVERRIDES.items()))
def test_aftership_subtag_table(subtag: str, expected: TrackingStatus) -> None:
    assert aftership.tracking_status("Exception", subtag) is expected


def test_aftership_refusals() -> None:
    with pytest.raises(InvalidEvent, match=r"webhook\.msg"):
        convert("aftership", {"event": "tracking_update"})
    with pytest.raises(InvalidEvent, match="Teleported"):
        convert(
            "aftership",
            aftership_webhook(
                {
                    "tracking_number": "1",
                    "slug": "ups",
                    "tag": "Teleported",
                    "updated_at": "2018-08-17T06:25:10+00:00",
                }
            ),
        )
    with pytest.raises(UnsupportedEvent, match="return_created"):
        convert("aftership", {"event": "return_created", "msg": {}})
    assert convert("aftership", {"event": "tracking_pending_time", "msg": {}}) == []


@pytest.mark.parametrize("source", ["easypost", "shippo", "aftership"])
def test_truncated_json_is_refused(source: str) -> None:
    with pytest.raises(InvalidEvent, match="not valid JSON"):
        convert(source, b'{"event": "track_updated", "data": {"tracking_nu')
