"""The store's catalogue (with Shopify's ids) and its stock, location by location.

Levels here are what Shopify reports as ``available`` per inventory item and location:
they fall when a parcel leaves, rise on receipts, and drop to zero everywhere when a
stock count writes a batch off (a *stock-out*). While a SKU is out everywhere, no order
holding it can be fulfilled; that is the one way an order here becomes short, so a
short order is always a real one and never an accident of sampling.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from orderops.sim.catalog import CATALOGUE, WAREHOUSES
from orderops.sim.providers.ids import ProviderIds
from orderops.sim.providers.story import Item, Location, OrderStory

REORDER_FLOOR = 8
REORDER_QUANTITY = 120
RESTOCK_QUANTITY = 80
"""Units received per location when a stock-out ends: more than the waiting orders need."""

_ZIPS = {"wh-east": ("Edison", "NJ", "08817"), "wh-central": ("Columbus", "OH", "43228")}
_ZIPS["wh-west"] = ("Reno", "NV", "89502")


def build_catalogue(ids: ProviderIds) -> tuple[Item, ...]:
    return tuple(
        Item(
            sku=p.sku,
            title=p.title,
            category=p.category,
            price_minor=p.price_minor,
            popularity=p.popularity,
            product_id=ids.shopify("product"),
            variant_id=ids.shopify("variant"),
            inventory_item_id=ids.shopify("inventory_item"),
        )
        for p in CATALOGUE
    )


def build_locations(rng: random.Random) -> dict[str, Location]:
    locations: dict[str, Location] = {}
    for warehouse in WAREHOUSES:
        city, state, zip_code = _ZIPS[warehouse.code]
        locations[warehouse.code] = Location(
            code=warehouse.code,
            location_id=rng.randint(60_000_000_000, 79_999_999_999),
            name=f"{city} Warehouse",
            city=city,
            state=state,
            zip=zip_code,
        )
    return locations


@dataclass(frozen=True)
class StockOut:
    """A SKU at zero everywhere from ``start`` until the receipt at ``restock_at``."""

    sku: str
    start: datetime
    restock_at: datetime

    def blocks(self, sku: str, since: datetime, until: datetime) -> bool:
        """Whether it overlaps an order holding ``sku`` unfulfilled in [since, until]."""
        return sku == self.sku and self.start <= until and self.restock_at > since


@dataclass(frozen=True)
class LevelChange:
    at: datetime
    item: Item
    location: Location
    available: int
    reason: str


def level_changes(
    rng: random.Random,
    catalogue: tuple[Item, ...],
    locations: dict[str, Location],
    orders: list[OrderStory],
    stock_outs: list[StockOut],
    opened_at: datetime,
) -> list[LevelChange]:
    """Every level Shopify reports, in time order: the opening count, picks, receipts,
    write-offs and the receipts that end each stock-out."""
    by_sku = {item.sku: item for item in catalogue}
    levels = {(item.sku, code): rng.randint(40, 300) for item in catalogue for code in locations}
    changes = [
        LevelChange(opened_at, item, locations[code], levels[(item.sku, code)], "count")
        for item in catalogue
        for code in locations
    ]
    actions: list[tuple[datetime, int, str, object]] = []
    for index, order in enumerate(orders):
        if order.parcel is not None:
            actions.append((order.parcel.at, index, "pick", order))
    for index, out in enumerate(stock_outs):
        actions.append((out.start, index, "write_off", out))
        actions.append((out.restock_at, index, "receipt", out))
    actions.sort(key=lambda a: (a[0], a[2], a[1]))
    for at, _, kind, subject in actions:
        if isinstance(subject, StockOut):
            item = by_sku[subject.sku]
            for code, location in locations.items():
                levels[(item.sku, code)] = 0 if kind == "write_off" else RESTOCK_QUANTITY
                changes.append(LevelChange(at, item, location, levels[(item.sku, code)], kind))
            continue
        assert isinstance(subject, OrderStory)
        assert subject.parcel is not None
        location = subject.parcel.location
        for line in subject.lines:
            key = (line.item.sku, location.code)
            if levels[key] - line.quantity < REORDER_FLOOR:
                levels[key] += REORDER_QUANTITY
                changes.append(
                    LevelChange(
                        at - timedelta(minutes=20), line.item, location, levels[key], "receipt"
                    )
                )
            levels[key] -= line.quantity
            changes.append(LevelChange(at, line.item, location, levels[key], "pick"))
    return sorted(changes, key=lambda c: c.at)
