"""The simulator's shipments as delay-model history rows (``ShipmentRecord``).

Follows the mapping table in ``detect.models.shipments``; the dispatch time is the
first carrier scan (else the label), as the live detector reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from orderops.detect.models.shipments import ShipmentRecord
from orderops.domain.events import EventType
from orderops.domain.statuses import TrackingStatus


def shipment_records(events: Iterable[Mapping[str, Any]]) -> list[ShipmentRecord]:
    orders: dict[str, tuple[datetime, str]] = {}
    shipments: dict[str, dict[str, Any]] = {}
    for event in events:
        kind, data = EventType(event["type"]), event["data"]
        if kind is EventType.ORDER_PLACED:
            region = (data.get("ship_to") or {}).get("region") or ""
            orders[data["order_ref"]] = (datetime.fromisoformat(data["promised_by"]), region)
        elif kind is EventType.SHIPMENT_CREATED:
            shipments[data["tracking_number"]] = {
                "data": data,
                "label_at": datetime.fromisoformat(event["time"]),
                "scans": [],
                "delivered": None,
            }
        elif kind is EventType.SHIPMENT_TRACKING and data["tracking_number"] in shipments:
            entry = shipments[data["tracking_number"]]
            at = datetime.fromisoformat(data["occurred_at"])
            if data["status"] != TrackingStatus.LABEL_CREATED:
                entry["scans"].append(at)
            if data["status"] == TrackingStatus.DELIVERED and entry["delivered"] is None:
                entry["delivered"] = at
    records = []
    for number, entry in shipments.items():
        data = entry["data"]
        if data["order_ref"] not in orders:
            continue
        promised, region = orders[data["order_ref"]]
        scans = sorted(entry["scans"])
        records.append(
            ShipmentRecord(
                shipment_id=number,
                carrier=data["carrier"].lower(),
                service_level=data.get("service") or "unknown",
                origin_region=data.get("origin_location") or "",
                destination_region=region,
                dispatched_at=scans[0] if scans else entry["label_at"],
                promised_at=promised,
                delivered_at=entry["delivered"],
                scan_times=tuple(scans),
            )
        )
    return records
