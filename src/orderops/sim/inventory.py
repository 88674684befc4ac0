"""Stock levels as the store reports them when a warehouse picks an order.

Levels run across all orders in pick order, so the same SKU at the same site counts
down order after order; a receiving restock (no order subject) keeps them positive,
as a real replenishment cycle would.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from orderops.domain.events import EventType
from orderops.sim.catalog import CATALOGUE, WAREHOUSES
from orderops.sim.emit import SHOPIFY, Event, EventRenderer
from orderops.sim.facts import OrderPlan

RESTOCK_FLOOR = 5
RESTOCK_QUANTITY = 120
PROBE_DELAY = timedelta(minutes=5)
"""An injected shortfall: the store reports the level it cannot cover this long after the order."""
PICK, PROBE, RESTOCK = 0, 1, 2


def inventory_events(
    rng: random.Random, renderer: EventRenderer, orders: list[OrderPlan]
) -> list[Event]:
    levels = {
        (product.sku, warehouse.code): rng.randint(40, 300)
        for product in CATALOGUE
        for warehouse in WAREHOUSES
    }
    actions: list[tuple[datetime, int, int, OrderPlan]] = [
        (order.shipment.picked_at, index, PICK, order)
        for index, order in enumerate(orders)
        if order.shipment is not None
    ]
    for index, order in enumerate(orders):
        if order.restock_at is not None:
            actions.append((order.placed_at + PROBE_DELAY, index, PROBE, order))
            actions.append((order.restock_at, index, RESTOCK, order))
    actions.sort(key=lambda action: action[:3])
    events: list[Event] = []
    for at, _, kind, order in actions:
        if kind == PROBE:
            key = (order.lines[0].product.sku, order.location)
            events.append(_level(renderer, at, order.order_ref, key, levels[key]))
            continue
        if kind == RESTOCK:
            key = (order.lines[0].product.sku, order.location)
            # Enough that the level left after this order's own pick still covers the line.
            levels[key] += order.lines[0].quantity * 2 + RESTOCK_QUANTITY
            events.append(_level(renderer, at, None, key, levels[key]))
            continue
        for line in order.lines:
            key = (line.product.sku, line.location or order.location)
            if levels[key] - line.quantity < RESTOCK_FLOOR:
                levels[key] += RESTOCK_QUANTITY
                events.append(_level(renderer, at, None, key, levels[key]))
            levels[key] -= line.quantity
            events.append(_level(renderer, at, order.order_ref, key, levels[key]))
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
