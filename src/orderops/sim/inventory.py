"""Stock levels as the store reports them when a warehouse picks an order.

Levels run across all orders in pick order, so the same SKU at the same site counts
down order after order; a receiving restock (no order subject) keeps them positive,
as a real replenishment cycle would.
"""

from __future__ import annotations

import random
from datetime import datetime

from orderops.domain.events import EventType
from orderops.sim.catalog import CATALOGUE, WAREHOUSES
from orderops.sim.emit import SHOPIFY, Event, EventRenderer
from orderops.sim.facts import OrderPlan

RESTOCK_FLOOR = 5
RESTOCK_QUANTITY = 120


def inventory_events(
    rng: random.Random, renderer: EventRenderer, orders: list[OrderPlan]
) -> list[Event]:
    levels = {
        (product.sku, warehouse.code): rng.randint(40, 300)
        for product in CATALOGUE
        for warehouse in WAREHOUSES
    }
    picks: list[tuple[datetime, int, OrderPlan]] = [
        (order.shipment.picked_at, index, order)
        for index, order in enumerate(orders)
        if order.shipment is not None
    ]
    picks.sort(key=lambda pick: (pick[0], pick[1]))
    events: list[Event] = []
    for picked_at, _, order in picks:
        for line in order.lines:
            key = (line.product.sku, order.location)
            if levels[key] - line.quantity < RESTOCK_FLOOR:
                levels[key] += RESTOCK_QUANTITY
                events.append(_level(renderer, picked_at, None, key, levels[key]))
            levels[key] -= line.quantity
            events.append(_level(renderer, picked_at, order.order_ref, key, levels[key]))
    return events


def _level(
    renderer: EventRenderer,
    at: datetime,
    order_ref: str | None,
    key: tuple[str, str],
    available: int,
) -> Event:
    sku, location = key
    return renderer.envelope(
        source=SHOPIFY,
        type_=EventType.INVENTORY_LEVEL,
        at=at,
        subject=order_ref,
        data={"sku": sku, "location": location, "available": available},
    )
