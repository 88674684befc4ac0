"""Projecting shipments, carrier scans and fulfillment holds.

A shipment is found by its tracking code through the alias store, not by carrier and
number equality: Shopify writes "UPS" where the carrier's own webhook writes "ups", and a
code may be typed with spaces. A scan may beat the label event; it creates the shipment
(and its tracking alias), and the label event fills in the order when it comes.
"""

from __future__ import annotations

from datetime import datetime

from orderops.domain.aliases import Entity
from orderops.domain.errors import InvalidEvent
from orderops.domain.events import FulfillmentHoldData, ShipmentData, TrackingData
from orderops.domain.statuses import TrackingStatus
from orderops.resolve.aliases import AliasStore, pairs, shipment_names, system_of
from orderops.resolve.projection import Projection, refs
from orderops.resolve.reads import hold as hold_of
from orderops.resolve.rollups import refresh_order_rollups
from orderops.resolve.stock import end_shortfall
from orderops.storage.base import new_id
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import FulfillmentHold, Shipment, TrackingEvent
from orderops.storage.uow import UnitOfWork

ON_HOLD = "on_hold"


def find_shipment(
    uow: UnitOfWork, store: AliasStore, carrier: str, tracking_number: str
) -> Shipment | None:
    """The shipment a tracking code names, whatever case the carrier was written in."""
    for entity_type, entity_ref in store.lookup("tracking", tracking_number):
        if entity_type == Entity.SHIPMENT:
            found = uow.commerce.shipment_by_id(entity_ref)
            if found is not None:
                return found
    return uow.commerce.shipment(carrier, tracking_number)  # stored before aliases existed


def project_shipment(
    uow: UnitOfWork,
    store: AliasStore,
    data: ShipmentData,
    *,
    source: str,
    at: datetime,
    inbox_id: str,
    now: datetime,
) -> Projection:
    repo = uow.commerce
    shipment = find_shipment(uow, store, data.carrier, data.tracking_number)
    if shipment is None:
        shipment = Shipment(
            id=new_id(),
            carrier=data.carrier,
            tracking_number=data.tracking_number,
            status=TrackingStatus.LABEL_CREATED,
            status_at=at,
            created_at=at,
        )
        repo.add(shipment)
    # The label's time, also when a scan that overtook it created the row (label_at).
    shipment.created_at = min(shipment.created_at, at)
    before = shipment.order_ref
    shipment.shipment_ref = data.shipment_ref
    shipment.order_ref = data.order_ref or shipment.order_ref
    shipment.service = data.service
    shipment.origin_location = data.origin_location
    shipment.estimated_delivery = data.estimated_delivery or shipment.estimated_delivery
    repo.flush()
    names = shipment_names(data.tracking_number, data.shipment_ref, source)
    new_keys = store.register_all(
        names + pairs(data.aliases),
        entity_type=Entity.SHIPMENT,
        entity_ref=shipment.id,
        source=source,
        inbox_id=inbox_id,
        now=now,
    )
    if shipment.order_ref and shipment.order_ref != before:
        new_keys += store.keys_of(Entity.SHIPMENT, shipment.id)
    order_refs = refs(shipment.order_ref, before)
    for ref in sorted(order_refs):
        order = repo.order_by_ref(ref)
        if order is None:
            continue
        refresh_order_rollups(repo, order)
        if ref == shipment.order_ref:
            for row in order.lines:
                location = row.location or order.location
                if location is None or location == data.origin_location:
                    end_shortfall(row, at=at)
    return Projection(
        order_refs,
        summary=f"label created, {data.carrier} {data.tracking_number}",
        new_keys=tuple(new_keys),
    )


def project_tracking(
    uow: UnitOfWork,
    store: AliasStore,
    data: TrackingData,
    *,
    source: str,
    inbox_id: str,
    now: datetime,
) -> Projection:
    repo = uow.commerce
    shipment = find_shipment(uow, store, data.carrier, data.tracking_number)
    new_keys: list[str] = []
    if shipment is None:
        # A scan may beat the label event; keep it, the label event fills in the order.
        shipment = Shipment(
            id=new_id(),
            carrier=data.carrier,
            tracking_number=data.tracking_number,
            status=data.status,
            status_at=data.occurred_at,
            created_at=data.occurred_at,
        )
        repo.add(shipment)
        repo.flush()
        new_keys = store.register(
            "tracking",
            data.tracking_number,
            Entity.SHIPMENT,
            shipment.id,
            source,
            inbox_id,
            now,
        )
    repo.add(
        TrackingEvent(
            shipment_id=shipment.id,
            inbox_id=inbox_id,
            status=data.status,
            occurred_at=data.occurred_at,
            location=data.location,
            message=data.message,
        )
    )
    if data.status is not TrackingStatus.LABEL_CREATED and (
        shipment.first_scan_at is None or data.occurred_at < shipment.first_scan_at
    ):
        shipment.first_scan_at = data.occurred_at
    if data.occurred_at >= shipment.status_at:
        shipment.status = data.status
        shipment.status_at = data.occurred_at
        shipment.last_message = data.message
        shipment.last_location = data.location or shipment.last_location
        shipment.estimated_delivery = data.estimated_delivery or shipment.estimated_delivery
    if data.status is TrackingStatus.DELIVERED and (
        shipment.delivered_at is None or data.occurred_at < shipment.delivered_at
    ):
        shipment.delivered_at = data.occurred_at
    repo.flush()
    if shipment.order_ref and (order := repo.order_by_ref(shipment.order_ref)) is not None:
        refresh_order_rollups(repo, order)
    where = f" at {data.location}" if data.location else ""
    return Projection(
        refs(shipment.order_ref),
        summary=f"{data.carrier} scan: {data.status}{where}",
        new_keys=tuple(new_keys),
    )


def project_hold(
    uow: UnitOfWork, data: FulfillmentHoldData, *, source: str, at: datetime
) -> Projection:
    """Keep the latest state of a held fulfillment order, and when it was held and released."""
    if data.order_ref is None:
        raise InvalidEvent(f"fulfillment order {data.fulfillment_order_ref} names no order")
    repo = ResolveRepository(uow.session, uow.tenant_id)
    source = system_of(source)  # the hold is "system:ref" in links: short and stable
    hold = hold_of(uow, source, data.fulfillment_order_ref)
    if hold is None:
        hold = FulfillmentHold(
            source=source,
            fulfillment_order_ref=data.fulfillment_order_ref,
            order_ref=data.order_ref,
            status=data.status,
            reasons={"reasons": list(data.reasons), "note": data.note},
            status_at=at,
        )
        repo.add(hold)
    elif at < hold.status_at:
        hold.order_ref = data.order_ref
        return Projection(refs(data.order_ref), summary="older fulfillment hold update ignored")
    before = hold.order_ref
    hold.order_ref = data.order_ref
    hold.status, hold.status_at = data.status, at
    if data.status == ON_HOLD:
        hold.reasons = {"reasons": list(data.reasons), "note": data.note}
        if hold.held_at is None or hold.released_at is not None:
            hold.held_at, hold.released_at = at, None
        verb = "placed on hold"
    else:
        if hold.held_at is not None and hold.released_at is None:
            hold.released_at = at
        verb = f"now {data.status}"
    repo.flush()
    why = f" ({', '.join(data.reasons)})" if data.reasons and data.status == ON_HOLD else ""
    return Projection(
        refs(data.order_ref, before),
        summary=f"fulfillment order {data.fulfillment_order_ref} {verb}{why}",
    )
