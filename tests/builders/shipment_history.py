"""A tenant's delivered shipment history written straight into the projected tables.

Model training reads orders, shipments and tracking events as the projector leaves them;
going through the pipeline for a hundred parcels would cost seconds per test and teach
nothing about the registry. The history has a learnable pattern: parcels to one region
(``CA``) are mostly late, parcels to another (``NY``) mostly on time.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta

from orderops.bootstrap import App
from orderops.storage.base import new_id
from orderops.storage.tables import Order, Shipment, TrackingEvent
from orderops.storage.uow import UnitOfWork

LATE_SHARE = {"CA": 0.8, "NY": 0.1}


def write_shipment_history(
    app: App,
    tenant: str,
    *,
    until: datetime,
    shipments: int = 90,
    days: int = 45,
    seed: int = 7,
    late_share: Mapping[str, float] = LATE_SHARE,
) -> int:
    """``shipments`` parcels dispatched over the ``days`` before ``until``, all delivered by
    then, late in each region at ``late_share``; answers how many were late."""
    rng = random.Random(seed)
    late_count = 0
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        for i in range(shipments):
            region = "CA" if i % 2 else "NY"
            dispatched = until - timedelta(days=days) + timedelta(hours=i * days * 24 / shipments)
            dispatched = dispatched.replace(minute=0, second=0, microsecond=0)
            promised = dispatched + timedelta(days=3)
            late = rng.random() < late_share[region]
            late_count += late
            delivered = promised + (
                timedelta(hours=rng.randint(6, 48))
                if late
                else -timedelta(hours=rng.randint(4, 40))
            )
            delivered = min(delivered, until - timedelta(hours=1))
            ref = f"hist-{i}"
            uow.session.add(
                Order(
                    id=new_id(),
                    tenant_id=tenant,
                    order_ref=ref,
                    source="test://shop",
                    status="open",
                    financial_status="paid",
                    fulfillment_status="fulfilled",
                    currency="USD",
                    total_minor=5000,
                    placed_at=dispatched - timedelta(hours=6),
                    promised_by=promised,
                    ship_to={"region": region, "country": "US"},
                    delivered_at=delivered,
                    source_updated_at=delivered,
                    created_at=dispatched,
                    updated_at=delivered,
                )
            )
            shipment_id = new_id()
            uow.session.add(
                Shipment(
                    id=shipment_id,
                    tenant_id=tenant,
                    shipment_ref=f"shp-{ref}",
                    order_ref=ref,
                    carrier="UPS",
                    service="ground",
                    tracking_number=f"1ZH{i:05d}",
                    origin_location="WH-EAST",
                    status="delivered",
                    status_at=delivered,
                    delivered_at=delivered,
                    created_at=dispatched - timedelta(hours=2),
                    first_scan_at=dispatched,
                )
            )
            for at, status in ((dispatched, "in_transit"), (delivered, "delivered")):
                uow.session.add(
                    TrackingEvent(
                        id=new_id(),
                        tenant_id=tenant,
                        shipment_id=shipment_id,
                        inbox_id=new_id(),
                        status=status,
                        occurred_at=at,
                    )
                )
            uow.session.flush()
        uow.commit()
    return late_count
