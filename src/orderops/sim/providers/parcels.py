"""From a paid order to the doorstep: when the warehouse ships and what carriers report.

An untroubled parcel leaves before the policy's handling deadline and arrives at least
two hours before the promise, so every late or stuck order comes from a scenario the
store chose, never from sampling noise near a deadline.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from orderops.sim.catalog import CARRIER_SERVICES, HUBS, ServiceLevel
from orderops.sim.people import Customer
from orderops.sim.providers.ids import ProviderIds
from orderops.sim.providers.promise import Deadlines, StorePolicy
from orderops.sim.providers.story import Location, ParcelStory, Scan, ScanStory

SHOPIFY_CARRIER = {"UPS": "UPS", "USPS": "USPS", "FedEx": "FedEx", "DHL": "DHL Express"}
TRACKERS = (("easypost", 0.5), ("shippo", 0.3), ("aftership", 0.2))
MIN_TRANSIT = {"standard": 30.0, "expedited": 18.0, "express": 8.0}
"""Fewest hours between pick-up and delivery per service level."""
WAREHOUSE_OPENS, WAREHOUSE_CLOSES = time(8, 0), time(19, 0)
_HUB_ZIPS = {"Secaucus": "07094", "Atlanta": "30336", "Chicago": "60638", "Dallas": "75236"}
_HUB_ZIPS["Ontario"] = "91761"
_DELIVERED = (
    "Delivered, front door/porch",
    "Delivered, in/at mailbox",
    "Delivered, left with individual",
    "Delivered, parcel locker",
)
_EXCEPTIONS = (
    "Delivery exception: severe weather conditions have delayed delivery",
    "Package damaged in transit, held for inspection",
    "Missed connection at sort facility, rescheduled",
)

LATE_KINDS = frozenset({"late", "stalled", "failed_attempt", "carrier_exception_late", "lost"})


def _h(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(seconds=round(rng.uniform(low, high) * 3600))


def warehouse_time(policy: StorePolicy, at: datetime, rng: random.Random) -> datetime:
    """``at`` if the warehouse is working then, else a moment early the next working day."""
    local = at.astimezone(policy.zone)
    if policy.business(local.date()) and WAREHOUSE_OPENS <= local.time() < WAREHOUSE_CLOSES:
        return at
    day = local.date()
    if local.time() >= WAREHOUSE_CLOSES or not policy.business(day):
        day = policy.next_business(day)
    opens = datetime.combine(day, WAREHOUSE_OPENS, tzinfo=policy.zone)
    return (opens + _h(rng, 0.1, 3)).astimezone(at.tzinfo)


def ship_time(
    rng: random.Random,
    policy: StorePolicy,
    *,
    ready_at: datetime,
    deadlines: Deadlines,
    delayed: bool,
) -> datetime:
    """When the label is bought: on time unless the scenario delays it past the deadline."""
    if delayed:
        return warehouse_time(policy, deadlines.handling_due + _h(rng, 3, 40), rng)
    at = warehouse_time(policy, ready_at + _h(rng, 0.3, 5), rng)
    latest = deadlines.handling_due - _h(rng, 1, 3)
    if at > latest:
        at = max(ready_at + timedelta(minutes=10), latest)
    return at


def plan_parcel(
    rng: random.Random,
    ids: ProviderIds,
    *,
    level: str,
    location: Location,
    customer: Customer,
    shipped_at: datetime,
    promised_by: datetime,
    trouble: str | None,
) -> ParcelStory:
    carriers = CARRIER_SERVICES[ServiceLevel(level)]
    carrier, service, _ = rng.choices(carriers, weights=[c[2] for c in carriers])[0]
    tracker = rng.choices([t for t, _ in TRACKERS], weights=[w for _, w in TRACKERS])[0]
    route = _Route(rng, location, customer)
    label = route.scan(shipped_at + timedelta(minutes=rng.randint(1, 10)), Scan.LABEL, "origin")
    first = shipped_at + (_h(rng, 26, 50) if trouble == "no_pickup" else _h(rng, 1, 8))
    latest = promised_by - _h(rng, 2, 8)
    earliest = first + timedelta(hours=MIN_TRANSIT[level])
    if trouble in ("late", "carrier_exception_late"):
        delivered_at: datetime | None = promised_by + _h(rng, 3, 72)
    elif trouble in ("stalled", "lost"):
        delivered_at = None
    else:
        delivered_at = earliest + (max(latest, earliest) - earliest) * rng.uniform(0.3, 1.0)
    scans = [label, *route.journey(first, delivered_at or first + _h(rng, 30, 60))]
    if trouble == "stalled":
        scans = [s for s in scans if s.status in (Scan.LABEL, Scan.IN_TRANSIT)][:4]
    elif trouble == "lost":
        scans = [s for s in scans if s.status in (Scan.LABEL, Scan.IN_TRANSIT)][:3]
        scans.append(route.scan(scans[-1].at + _h(rng, 20, 40), Scan.LOST, "hub"))
    elif trouble == "carrier_exception_late":
        hub = max(s.at for s in scans if s.status is Scan.IN_TRANSIT)
        scans.append(route.scan(hub + _h(rng, 1, 6), Scan.EXCEPTION, "hub"))
    elif trouble == "failed_attempt":
        scans = route.failed_attempt(scans)
    scans.sort(key=lambda s: s.at)
    estimate = min(promised_by, (delivered_at or promised_by))
    return ParcelStory(
        fulfillment_id=ids.shopify("fulfillment"),
        at=shipped_at,
        location=location,
        carrier=SHOPIFY_CARRIER[carrier],
        service=service,
        tracking=ids.tracking(carrier),
        tracker=tracker,
        tracker_ref=ids.easypost("trk") if tracker == "easypost" else ids.hex(24),
        shipment_ref=ids.easypost("shp"),
        estimated_delivery=estimate.replace(hour=0, minute=0, second=0),
        scans=tuple(scans),
        shopify_reports_delivery=rng.random() < 0.3,
    )


class _Route:
    """Places along a parcel's trip and the scans made there, always in time order."""

    def __init__(self, rng: random.Random, origin: Location, customer: Customer) -> None:
        self._rng = rng
        hub_city, hub_state = HUBS[customer.region].split(", ")
        address = customer.address
        self._places = {
            "origin": (origin.city, origin.state, origin.zip),
            "hub": (hub_city, hub_state, _HUB_ZIPS[hub_city]),
            "destination": (address.city, address.region, address.postal_code),
        }

    def scan(self, at: datetime, status: Scan, place: str, message: str = "") -> ScanStory:
        city, state, zip_code = self._places[place]
        text = (
            message
            or {
                Scan.LABEL: "Shipping label created, awaiting item",
                Scan.IN_TRANSIT: "In transit",
                Scan.OUT_FOR_DELIVERY: "Out for delivery",
                Scan.DELIVERED: self._rng.choice(_DELIVERED),
                Scan.FAILED_ATTEMPT: "Delivery attempted, no one available to sign",
                Scan.EXCEPTION: self._rng.choice(_EXCEPTIONS),
                Scan.LOST: "Package could not be located, investigation opened",
            }[status]
        )
        return ScanStory(at.replace(microsecond=0), status, text, city, state, zip_code)

    def journey(self, picked_up: datetime, delivered_at: datetime) -> list[ScanStory]:
        rng = self._rng
        span = delivered_at - picked_up
        scans = [self.scan(picked_up, Scan.IN_TRANSIT, "origin", "Picked up by carrier")]
        for i, message in enumerate(("Arrived at sort facility", "Departed sort facility")):
            scans.append(
                self.scan(picked_up + span * (0.35 + 0.2 * i), Scan.IN_TRANSIT, "hub", message)
            )
        out_at = delivered_at - min(_h(rng, 2, 7), span * 0.1)
        scans.append(self.scan(out_at, Scan.OUT_FOR_DELIVERY, "destination"))
        scans.append(self.scan(delivered_at, Scan.DELIVERED, "destination"))
        return scans

    def failed_attempt(self, scans: list[ScanStory]) -> list[ScanStory]:
        out = next(s for s in scans if s.status is Scan.OUT_FOR_DELIVERY)
        failed = self.scan(out.at + _h(self._rng, 1, 4), Scan.FAILED_ATTEMPT, "destination")
        again = self.scan(out.at + timedelta(days=1), Scan.OUT_FOR_DELIVERY, "destination")
        done = self.scan(again.at + _h(self._rng, 1, 6), Scan.DELIVERED, "destination")
        return [s for s in scans if s.status not in (Scan.OUT_FOR_DELIVERY, Scan.DELIVERED)] + [
            out,
            failed,
            again,
            done,
        ]
