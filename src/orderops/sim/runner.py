"""The simulator's entry point: plan orders, render events, cut at ``end``, derive labels."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orderops.sim.config import LEGACY_TYPES, SimConfig
from orderops.sim.emit import EventRenderer
from orderops.sim.ids import IdFactory
from orderops.sim.inject import OUTAGE, OUTAGE_SOURCE, has_outage, inject
from orderops.sim.inventory import inventory_events
from orderops.sim.labels import Label, derive_labels
from orderops.sim.orders import plan_orders


@dataclass(frozen=True)
class SimResult:
    config: SimConfig
    events: list[dict[str, Any]]
    """Canonical event dicts with ``time <= config.end``, sorted by time (ties keep emit order)."""
    labels: list[Label]
    identities: dict[str, str] = field(default_factory=dict)
    """Ground truth of who is who: every customer ref in ``events`` -> its person id.

    Refs with the same person id are one person (a second account made by
    ``duplicate_customer_rate``); housemates sharing a phone and address are not.
    """


def simulate(config: SimConfig) -> SimResult:
    """Run the store for ``config``; same config, same result, byte for byte."""
    rng = random.Random(config.seed)
    ids = IdFactory(rng)
    orders = inject(config, plan_orders(config, rng, ids))
    outage_from = config.end - OUTAGE if has_outage(config) else None
    if outage_from is not None:
        # The storefront feed is down: orders placed meanwhile are not seen at all.
        orders = [order for order in orders if order.placed_at < outage_from]
    renderer = EventRenderer(ids)
    events = [event for order in orders for event in renderer.order_events(order)]
    events += inventory_events(rng, renderer, orders)
    end = config.end
    timed = [(datetime.fromisoformat(event["time"]), event) for event in events]
    observed = [
        event
        for at, event in sorted(timed, key=lambda pair: pair[0])
        if at <= end
        and not (outage_from is not None and at >= outage_from and event["source"] == OUTAGE_SOURCE)
    ]
    seen = {ref for event in observed if (ref := _customer_ref(event)) is not None}
    identities = {
        order.customer.ref: order.customer.person_id
        for order in orders
        if order.customer.ref in seen
    }
    return SimResult(
        config=config,
        events=observed,
        labels=derive_labels(observed, end=end, types=config.labelled_types - LEGACY_TYPES),
        identities=dict(sorted(identities.items())),
    )


def _customer_ref(event: dict[str, Any]) -> str | None:
    data = event["data"]
    customer = data.get("customer") if event["type"] == "order.placed" else data
    if event["type"] in ("order.placed", "customer.upserted") and isinstance(customer, dict):
        ref = customer.get("customer_ref")
        return ref if isinstance(ref, str) else None
    return None
