"""From the store's story to the HTTP deliveries providers would make, in arrival order.

Every provider delivers a little after the event (seconds for Shopify and Stripe,
minutes for the tracking services). On top of that, about 3% of deliveries are
delivered twice (same body and, for Shopify, the same ``X-Shopify-Webhook-Id``; a Stripe
retry carries the same event id in its body), and about 5% are held up long enough that
a later delivery about the same object overtakes them, so an order can arrive after the
payment, the fulfillment or the ticket that names it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from orderops.sim.providers.carriers import CarrierRenderer
from orderops.sim.providers.shopify import OrderRenderer, ShopifyWire
from orderops.sim.providers.shopify_catalog import CatalogRenderer
from orderops.sim.providers.store import Store
from orderops.sim.providers.stripe import StripeRenderer
from orderops.sim.providers.wire import Draft, utc
from orderops.sim.providers.zendesk import ZendeskRenderer

REDELIVERY_SHARE = 0.03
OUT_OF_ORDER_SHARE = 0.05
OVERTAKE_WITHIN = timedelta(hours=6)
ORDER_FIRST_SHARE = 0.25
"""Of the held-up deliveries, the share that are ``orders/create`` (so records naming the
order arrive first)."""


@dataclass(frozen=True)
class Delivery:
    seq: int
    deliver_at: datetime
    draft: Draft
    redelivery_of: int | None = None
    held_up: bool = False

    def line(self) -> dict[str, Any]:
        """The JSON line written to ``deliveries.jsonl``."""
        return {
            "seq": self.seq,
            "deliver_at": utc(self.deliver_at),
            "provider": self.draft.provider,
            "headers": self.draft.headers,
            "body": self.draft.body,
            "redelivery_of": self.redelivery_of,
        }


def render(store: Store) -> list[Draft]:
    """Every delivery the store's providers send, unscheduled, in a fixed order."""
    seed = store.config.seed
    wire = ShopifyWire(random.Random(f"providers:{seed}:shopify"), store.config.shop_domain)
    catalog = CatalogRenderer(wire)
    opened = store.config.opened_at
    drafts = catalog.opening(store.catalogue, opened)
    drafts += [catalog.level(change) for change in store.levels]
    for at, item in store.catalogue_updates:
        drafts += catalog.product_update(item, opened, at)
    since: dict[str, datetime] = {}
    for order in store.orders:
        since.setdefault(order.customer.ref, order.placed_at - timedelta(seconds=30))
    orders = OrderRenderer(wire, since)
    stripe = StripeRenderer(random.Random(f"providers:{seed}:stripe"))
    carriers = CarrierRenderer(random.Random(f"providers:{seed}:carriers"))
    zendesk = ZendeskRenderer(random.Random(f"providers:{seed}:zendesk"))
    for order in store.orders:
        if order.new_customer:
            drafts.append(
                catalog.customer(order, since[order.customer.ref], since[order.customer.ref], True)
            )
        for at in order.customer_updates:
            drafts.append(catalog.customer(order, since[order.customer.ref], at, False))
        drafts += orders.drafts(order)
        drafts += catalog.holds(order)
        drafts += stripe.drafts(order)
        drafts += carriers.drafts(order)
        drafts += zendesk.drafts(order)
    return drafts


def schedule(drafts: list[Draft], *, seed: int, end: datetime) -> list[Delivery]:
    """Arrival times, hold-ups and retries; only what arrives by ``end`` is kept."""
    rng = random.Random(f"providers:{seed}:schedule")
    arrive = [d.occurred_at + timedelta(seconds=round(rng.uniform(*d.latency), 3)) for d in drafts]
    held = _hold_up(rng, drafts, arrive)
    entries: list[tuple[datetime, int, int | None]] = [(at, i, None) for i, at in enumerate(arrive)]
    count = round(len(drafts) * REDELIVERY_SHARE)
    for index in sorted(rng.sample(range(len(drafts)), min(count, len(drafts)))):
        again = arrive[index] + timedelta(seconds=round(rng.uniform(20, 3 * 3600)))
        entries.append((again, index, index))
    entries = [e for e in entries if e[0] <= end]
    entries.sort(
        key=lambda e: (
            e[0].replace(microsecond=0),
            drafts[e[1]].occurred_at,
            e[1],
            e[2] is not None,
        )
    )
    seq_of: dict[int, int] = {}
    out: list[Delivery] = []
    for seq, (at, index, original) in enumerate(entries, 1):
        at = at.replace(microsecond=0)
        if original is None:
            seq_of[index] = seq
            out.append(Delivery(seq, at, drafts[index], None, index in held))
        else:
            out.append(Delivery(seq, at, drafts[index], seq_of[original], False))
    return out


def _hold_up(rng: random.Random, drafts: list[Draft], arrive: list[datetime]) -> set[int]:
    """Delay some deliveries past a later one about the same object; returns their indexes."""
    by_subject: dict[str, list[int]] = defaultdict(list)
    for index, draft in enumerate(drafts):
        by_subject[draft.subject].append(index)
    successor: dict[int, int] = {}
    for indexes in by_subject.values():
        ordered = sorted(indexes, key=lambda i: (drafts[i].occurred_at, i))
        for first, second in pairwise(ordered):
            gap = drafts[second].occurred_at - drafts[first].occurred_at
            if timedelta(0) < gap <= OVERTAKE_WITHIN:
                successor[first] = second
    candidates = sorted(successor)
    creates = [i for i in candidates if drafts[i].headers.get("X-Shopify-Topic") == "orders/create"]
    budget = round(len(drafts) * OUT_OF_ORDER_SHARE)
    chosen = set(rng.sample(creates, min(len(creates), round(budget * ORDER_FIRST_SHARE))))
    rest = [i for i in candidates if i not in chosen]
    chosen |= set(rng.sample(rest, min(len(rest), budget - len(chosen))))
    for index in chosen:
        after = arrive[successor[index]]
        arrive[index] = after + timedelta(seconds=round(rng.uniform(30, 2 * 3600)))
    return chosen
