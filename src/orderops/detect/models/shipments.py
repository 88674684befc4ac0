"""The generic shipment history row every delay-model data source is mapped to.

The delay model never reads a data set directly: DataCo, Olist and (later) the
simulator's shipment history are each mapped to ``ShipmentRecord`` first, so the
feature code, the no-leakage lane history and the evaluation are written once.

Mapping the simulator (or the projected ``shipment`` state) to this row:

==================  ==========================================================
field               where it comes from
==================  ==========================================================
shipment_id         ``ShipmentData.shipment_ref``
carrier             ``ShipmentData.carrier`` (lower-case it)
service_level       ``ShipmentData.service`` or ``OrderData.service_level``
origin_region       ``ShipmentData.origin_location`` (warehouse / region)
destination_region  ``OrderData.ship_to.region`` or ``.country``
dispatched_at       ``occurred_at`` of the first ``shipment.tracking`` event or
                    of ``shipment.created``
promised_at         ``OrderData.promised_by`` (or ``estimated_delivery``)
delivered_at        ``occurred_at`` of the ``delivered`` tracking event; None
                    while the shipment is open or was lost
scan_times          ``occurred_at`` of every tracking event (any order)
==================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orderops.domain.clock import ensure_utc

UNKNOWN = "unknown"


def lane_key(origin_region: str, destination_region: str) -> str:
    """One string per lane, so the model and the lane history group alike."""
    return f"{origin_region.strip() or UNKNOWN}->{destination_region.strip() or UNKNOWN}"


@dataclass(frozen=True)
class ShipmentRecord:
    """One shipment as history knows it: what was promised and when it finished."""

    shipment_id: str
    carrier: str
    service_level: str
    origin_region: str
    destination_region: str
    dispatched_at: datetime
    promised_at: datetime
    delivered_at: datetime | None
    scan_times: tuple[datetime, ...] = ()

    def __post_init__(self) -> None:
        ensure_utc(self.dispatched_at)
        ensure_utc(self.promised_at)
        if self.delivered_at is not None:
            ensure_utc(self.delivered_at)
        for scan in self.scan_times:
            ensure_utc(scan)

    @property
    def lane(self) -> str:
        return lane_key(self.origin_region, self.destination_region)

    @property
    def finished(self) -> bool:
        return self.delivered_at is not None

    @property
    def late(self) -> bool:
        """Delivered after the promise. Open shipments are not late *yet* as history."""
        return self.delivered_at is not None and self.delivered_at > self.promised_at

    def is_open_at(self, at: datetime) -> bool:
        """Dispatched and not yet delivered at ``at``: the moments a prediction makes sense."""
        return self.dispatched_at <= at and (self.delivered_at is None or self.delivered_at > at)

    def last_scan_at(self, at: datetime) -> datetime:
        """The latest scan seen by ``at``; the dispatch counts as the first scan."""
        seen = [scan for scan in self.scan_times if scan <= at]
        return max([self.dispatched_at, *seen])
