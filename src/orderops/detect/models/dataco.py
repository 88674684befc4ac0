"""DataCo Smart Supply Chain rows mapped to ``ShipmentRecord`` (CC BY 4.0 data).

DataCo keeps day counts, not carrier scans, so the mapping approximates:

* dispatch = the order timestamp (no separate hand-over time exists);
* promise = end of the calendar day ``order day + Days for shipment (scheduled)``;
* delivery = the last minute of calendar day ``order day + Days for shipping
  (real)``, so "late" equals DataCo's own ``Late_delivery_risk`` (real >
  scheduled). The hour of delivery is unknown; the end of the day is the
  conservative choice: any earlier fixed hour would let "still undelivered at that
  hour of the promised day" give the outcome away, which no live feed does;
* carrier is unknown (one value); service level = ``Shipping Mode``;
* lane = ``Market -> Order Region``: DataCo has no origin warehouse, so the lane is
  effectively the destination region;
* no scans between dispatch and delivery, so "last scan" is the dispatch.

Cancelled shipments (``Delivery Status`` = "Shipping canceled") never deliver and
are left out; one record per ``Order Id`` (the file has one row per order line).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from orderops.detect.models.shipments import UNKNOWN, ShipmentRecord

DATE_FORMAT = "%m/%d/%Y %H:%M"
CANCELLED = "Shipping canceled"
DAY = timedelta(days=1)
LAST_MINUTE = timedelta(minutes=1)


def _start_of_day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def dataco_record(row: Mapping[str, str]) -> ShipmentRecord:
    """One DataCo order row as a shipment; timestamps are taken as UTC."""
    ordered = datetime.strptime(row["order date (DateOrders)"], DATE_FORMAT).replace(tzinfo=UTC)
    scheduled_days = int(row["Days for shipment (scheduled)"])
    real_days = int(row["Days for shipping (real)"])
    return ShipmentRecord(
        shipment_id=f"dataco-{row['Order Id']}",
        carrier=UNKNOWN,
        service_level=row["Shipping Mode"].strip(),
        origin_region=row["Market"].strip(),
        destination_region=row["Order Region"].strip(),
        dispatched_at=ordered,
        promised_at=_start_of_day(ordered) + (scheduled_days + 1) * DAY,
        delivered_at=_start_of_day(ordered) + (real_days + 1) * DAY - LAST_MINUTE,
    )


def dataco_records(rows: Iterable[Mapping[str, str]]) -> list[ShipmentRecord]:
    """Delivered DataCo shipments, one per order, in file order."""
    seen: set[str] = set()
    records: list[ShipmentRecord] = []
    for row in rows:
        if row["Delivery Status"] == CANCELLED or row["Order Id"] in seen:
            continue
        seen.add(row["Order Id"])
        records.append(dataco_record(row))
    return records
