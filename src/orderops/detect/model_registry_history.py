"""A tenant's own shipment history as delay-model rows, read from the projected state.

The mapping is the live detector's (``delay_predicted.shipment_record``), so a model
trained here sees what it will be shown: dispatch is the first carrier scan, else the
label; the promise is the order's; the destination is the ship-to region, else its
country; the scans are the tracking events after the label. Shipments of orders without
a promise cannot be judged late and are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderops.detect.models.shipments import ShipmentRecord
from orderops.domain.statuses import TrackingStatus
from orderops.storage.tables import Order, Shipment, TrackingEvent

SCAN_CHUNK = 500


def _region(ship_to: object) -> str:
    if not isinstance(ship_to, dict):
        return ""
    return str(ship_to.get("region") or ship_to.get("country") or "")


def tenant_shipment_records(
    session: Session,
    tenant_id: str,
    *,
    delivered_since: datetime | None = None,
    dispatched_before: datetime | None = None,
) -> list[ShipmentRecord]:
    """The tenant's shipments with a promise, oldest dispatch first.

    ``delivered_since`` keeps only shipments delivered at or after it (what a lane history
    needs); ``dispatched_before`` keeps only shipments that had left by then (training as
    of a moment).
    """
    query = (
        select(
            Shipment.id,
            Shipment.tracking_number,
            Shipment.carrier,
            Shipment.service,
            Shipment.origin_location,
            Shipment.created_at,
            Shipment.first_scan_at,
            Shipment.delivered_at,
            Order.promised_by,
            Order.ship_to,
        )
        .join(
            Order,
            (Order.tenant_id == Shipment.tenant_id) & (Order.order_ref == Shipment.order_ref),
        )
        .where(Shipment.tenant_id == tenant_id, Order.promised_by.is_not(None))
    )
    if delivered_since is not None:
        query = query.where(Shipment.delivered_at >= delivered_since)
    rows = session.execute(query).all()
    scans = _scan_times(session, tenant_id, [row.id for row in rows])
    records = []
    for row in rows:
        dispatched = row.first_scan_at or row.created_at
        if dispatched_before is not None and dispatched >= dispatched_before:
            continue
        delivered = row.delivered_at
        if (
            dispatched_before is not None
            and delivered is not None
            and delivered > dispatched_before
        ):
            delivered = None  # not known yet as of that moment
        records.append(
            ShipmentRecord(
                shipment_id=row.tracking_number,
                carrier=row.carrier.lower(),
                service_level=row.service or "unknown",
                origin_region=row.origin_location or "",
                destination_region=_region(row.ship_to),
                dispatched_at=dispatched,
                promised_at=row.promised_by,
                delivered_at=delivered,
                scan_times=tuple(
                    at
                    for at in scans.get(row.id, ())
                    if dispatched_before is None or at < dispatched_before
                ),
            )
        )
    records.sort(key=lambda r: (r.dispatched_at, r.shipment_id))
    return records


def _scan_times(
    session: Session, tenant_id: str, shipment_ids: Sequence[str]
) -> dict[str, list[datetime]]:
    scans: dict[str, list[datetime]] = defaultdict(list)
    for start in range(0, len(shipment_ids), SCAN_CHUNK):
        chunk = shipment_ids[start : start + SCAN_CHUNK]
        for shipment_id, at in session.execute(
            select(TrackingEvent.shipment_id, TrackingEvent.occurred_at)
            .where(
                TrackingEvent.tenant_id == tenant_id,
                TrackingEvent.shipment_id.in_(chunk),
                TrackingEvent.status != TrackingStatus.LABEL_CREATED,
            )
            .order_by(TrackingEvent.occurred_at)
        ):
            scans[shipment_id].append(at)
    return scans
