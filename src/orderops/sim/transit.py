"""From paid order to doorstep: handling, carrier choice, transit time and tracking scans.

Ground truth depends on one guarantee made here: a shipment that was not injected
late is delivered at least ``ON_TIME_MARGIN`` before its promise, so no order turns
late by accident of sampling and every late label comes from a deliberate injection.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

from orderops.domain.statuses import TrackingStatus
from orderops.sim.catalog import (
    CARRIER_SERVICES,
    GROUND_TRANSIT_DAYS,
    HUBS,
    ServiceLevel,
    Warehouse,
)
from orderops.sim.facts import LateMode, Scan, ShipmentPlan
from orderops.sim.ids import IdFactory

ON_TIME_MARGIN = timedelta(hours=6)
MIN_TRANSIT = timedelta(hours=6)
PROMISE_HOUR = time(20, 0, tzinfo=UTC)
"""Promises end at 20:00 UTC of the promised day (late afternoon in the US)."""

_DELIVERED_MESSAGES = (
    "Delivered, front door/porch",
    "Delivered, in/at mailbox",
    "Delivered, left with individual",
    "Delivered, parcel locker",
)
_EXCEPTION_MESSAGES = (
    "Delivery exception: severe weather conditions have delayed delivery",
    "Address information required: the street number is missing or incorrect",
    "Package damaged in transit, held for inspection",
    "Missed connection at sort facility, rescheduled",
)


def whole_seconds(value: datetime) -> datetime:
    """Systems report times to the second; so do we, which keeps JSON stable."""
    return value.replace(microsecond=0)


def promise_for(placed_at: datetime, days: int) -> datetime:
    return datetime.combine(placed_at.date() + timedelta(days=days), PROMISE_HOUR)


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


def _transit_days(rng: random.Random, level: ServiceLevel, lane: tuple[str, str]) -> int:
    if level is ServiceLevel.EXPRESS:
        return 1
    low, mode, high = GROUND_TRANSIT_DAYS[lane]
    if level is ServiceLevel.EXPEDITED:
        low, mode, high = 1, min(mode, 2), min(high, 2)
    return round(rng.triangular(low, high, mode))


def plan_shipment(
    rng: random.Random,
    ids: IdFactory,
    *,
    level: ServiceLevel,
    origin: Warehouse,
    region: str,
    destination: str,
    ready_at: datetime,
    promised_by: datetime,
    late_mode: LateMode | None,
) -> ShipmentPlan:
    """Plan the shipment of an order whose payment became good at ``ready_at``."""
    handling = _hours(rng, 1, 14) if level is ServiceLevel.STANDARD else _hours(rng, 0.5, 6)
    shipped_at = whole_seconds(ready_at + handling)
    picked_at = whole_seconds(shipped_at - timedelta(minutes=rng.uniform(15, 90)))
    carriers = CARRIER_SERVICES[level]
    carrier, service, _ = rng.choices(carriers, weights=[share for *_, share in carriers])[0]
    days = _transit_days(rng, level, (origin.code, region))
    expected_day = (shipped_at + timedelta(days=days)).date()
    scheduled = datetime.combine(expected_day, time(tzinfo=UTC)) + _hours(rng, 15, 23.5)
    estimated = min(datetime.combine(expected_day, PROMISE_HOUR), promised_by - ON_TIME_MARGIN)
    origin_label = f"{origin.city}, {origin.state}"
    journey = _Journey(rng, origin_label, HUBS[region], destination)
    if late_mode is None:
        latest = promised_by - ON_TIME_MARGIN - _hours(rng, 0, 4)
        delivered_at = max(min(scheduled, latest), shipped_at + MIN_TRANSIT)
        scans = journey.delivered(shipped_at, whole_seconds(delivered_at))
    else:
        scans = journey.late(late_mode, shipped_at, promised_by)
    return ShipmentPlan(
        shipment_ref=ids.shipment_ref(),
        carrier=carrier,
        service=service,
        tracking_number=ids.tracking_number(carrier),
        origin=origin,
        picked_at=picked_at,
        shipped_at=shipped_at,
        estimated_delivery=estimated,
        scans=tuple(scans),
    )


class _Journey:
    """Lays tracking scans along a parcel's trip, always in time order."""

    def __init__(self, rng: random.Random, origin: str, hub: str, destination: str) -> None:
        self._rng = rng
        self._origin = origin
        self._hub = hub
        self._destination = destination

    def _first_leg(self, shipped_at: datetime, span: timedelta) -> list[Scan]:
        rng = self._rng
        created = Scan(
            TrackingStatus.LABEL_CREATED,
            shipped_at + timedelta(minutes=2),
            self._origin,
            "Shipping label created, awaiting item",
        )
        picked_up = Scan(
            TrackingStatus.IN_TRANSIT,
            whole_seconds(shipped_at + min(span * rng.uniform(0.08, 0.2), _hours(rng, 2, 10))),
            self._origin,
            "Picked up by carrier",
        )
        return [created, picked_up]

    def _hub_scans(self, after: datetime, until: datetime, count: int) -> list[Scan]:
        messages = (
            "Arrived at sort facility",
            "Departed sort facility",
            "In transit to next facility",
        )
        step = (until - after) / (count + 1)
        return [
            Scan(
                TrackingStatus.IN_TRANSIT,
                whole_seconds(after + step * (i + 1)),
                self._hub,
                messages[i % len(messages)],
            )
            for i in range(count)
        ]

    def delivered(self, shipped_at: datetime, delivered_at: datetime) -> list[Scan]:
        rng = self._rng
        span = delivered_at - shipped_at
        scans = self._first_leg(shipped_at, span)
        out_at = whole_seconds(delivered_at - min(_hours(rng, 2, 8), span * 0.1))
        scans += self._hub_scans(scans[-1].at, shipped_at + span * 0.85, rng.randint(0, 2))
        scans.append(
            Scan(TrackingStatus.OUT_FOR_DELIVERY, out_at, self._destination, "Out for delivery")
        )
        scans.append(
            Scan(
                TrackingStatus.DELIVERED,
                delivered_at,
                self._destination,
                rng.choice(_DELIVERED_MESSAGES),
            )
        )
        return scans

    def late(self, mode: LateMode, shipped_at: datetime, promised_by: datetime) -> list[Scan]:
        rng = self._rng
        if mode is LateMode.DELAYED:
            return self.delivered(shipped_at, whole_seconds(promised_by + _hours(rng, 24, 72)))
        if mode is LateMode.STALLED:
            scans = self._first_leg(shipped_at, _hours(rng, 30, 80))
            return scans + self._hub_scans(scans[-1].at, scans[-1].at + _hours(rng, 10, 40), 1)
        exception_at = whole_seconds(
            max(shipped_at + _hours(rng, 8, 14), promised_by - _hours(rng, 6, 30))
        )
        exception = Scan(
            TrackingStatus.EXCEPTION, exception_at, self._hub, rng.choice(_EXCEPTION_MESSAGES)
        )
        if mode is LateMode.EXCEPTION_LOST:
            return [*self._first_leg(shipped_at, exception_at - shipped_at), exception]
        scans = self.delivered(shipped_at, whole_seconds(promised_by + _hours(rng, 24, 72)))
        return sorted([*scans, exception], key=lambda scan: scan.at)
