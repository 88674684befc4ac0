"""Projecting stock levels and catalogue items, and keeping each order line's shortfall.

A line that names a location (its own, or its order's) is judged against the stock at
that location. A line that names none (Shopify's line items never do: Shopify routes an
order to any location with stock) is judged against the SKU's stock summed over every
location the tenant holds it at.
"""

from __future__ import annotations

from datetime import datetime

from orderops.domain.aliases import Entity
from orderops.domain.errors import InvalidEvent
from orderops.domain.events import CatalogItemData, InventoryLevelData
from orderops.resolve.aliases import AliasStore, pairs
from orderops.resolve.projection import Projection
from orderops.storage.repositories.commerce import CommerceRepository
from orderops.storage.tables import InventoryPosition, Order, OrderLineRow


def project_inventory(
    repo: CommerceRepository, data: InventoryLevelData, *, at: datetime
) -> Projection:
    if data.sku is None:  # resolve names the SKU first; reaching here without one is a bug
        raise InvalidEvent(f"stock level at {data.location} names no SKU")
    sku = data.sku
    position = repo.inventory(sku, data.location)
    if position is None:
        repo.add(
            InventoryPosition(
                sku=sku,
                location=data.location,
                available=data.available,
                on_hand=data.on_hand,
                as_of=at,
            )
        )
    elif at >= position.as_of:
        position.available, position.on_hand, position.as_of = data.available, data.on_hand, at
    else:
        return Projection(frozenset(), summary="older stock level ignored")
    repo.flush()
    everywhere = repo.available(sku, None) or 0  # this level included, just flushed
    touched: set[str] = set()
    for order, row in repo.waiting_lines(sku, data.location):
        located = (row.location or order.location) is not None
        available = data.available if located else everywhere
        track_shortfall(repo, order, row, available=available, at=at)
        touched.add(order.order_ref)
    return Projection(frozenset(touched), summary=f"stock {sku}@{data.location} = {data.available}")


def project_catalog(
    store: AliasStore, data: CatalogItemData, *, source: str, inbox_id: str, now: datetime
) -> Projection:
    """Remember which provider ids (variant, inventory item) name the SKU."""
    new_keys = store.register_all(
        [("sku", data.sku), *pairs(data.aliases)],
        entity_type=Entity.SKU,
        entity_ref=data.sku,
        source=source,
        inbox_id=inbox_id,
        now=now,
    )
    return Projection(frozenset(), summary=f"catalogue item {data.sku}", new_keys=tuple(new_keys))


def judge_lines(repo: CommerceRepository, order: Order, *, at: datetime) -> None:
    """Judge each line of a (new or updated) order against the stock it can draw on."""
    for row in order.lines:
        available = repo.available(row.sku, row.location or order.location)
        if available is not None:
            track_shortfall(repo, order, row, available=available, at=at)


def track_shortfall(
    repo: CommerceRepository, order: Order, row: OrderLineRow, *, available: int, at: datetime
) -> None:
    """Keep when the line's latest shortfall began and ended (substitution reads both)."""
    location = row.location or order.location
    shipments = repo.shipments_for(order.order_ref)
    if any(location is None or s.origin_location == location for s in shipments):
        return
    if row.quantity > available:
        if row.short_since is None or row.short_cleared_at is not None:
            row.short_since, row.short_cleared_at = max(at, order.placed_at), None
    else:
        end_shortfall(row, at=at)


def end_shortfall(row: OrderLineRow, *, at: datetime) -> None:
    if row.short_since is not None and row.short_cleared_at is None:
        row.short_cleared_at = max(at, row.short_since)
