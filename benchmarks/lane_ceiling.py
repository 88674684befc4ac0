"""How much two workers could gain on one tenant's inbox, before anyone builds lanes.

Each way of sharing a tenant's inbox between workers is a set of keys every event writes
or reads; an event may start once every earlier event (in replay order) that writes a key
it reads or writes, or reads a key it writes, is done. This script replays the
simulator's store history (the one benchmarks/processing_throughput.py processes) through
that rule with unit cost per event and no overhead, and prints the speed-up 2 workers
would get over 1 at best: the ceiling each design puts on the aim of 1.6x. The designs:

* today: one tenant lock, everything in turn (1.00x by construction);
* order lanes with a barrier: an event of an order holds its order; every other kind
  (stock levels, customer records, tickets before they are resolved) runs alone, after
  everything before it and before everything after it, as in docs/ORDER_LANES.md;
* the same with only stock levels as barriers (what is left if customers get their own
  keys and tickets are resolved before they are claimed);
* keyed by resource: an order's events hold the order and read the stock of its lines'
  SKUs (the stock detectors judge them), an order placed also writes its customer, a
  stock level writes its SKU, a customer record its customer.

    .venv/bin/python benchmarks/lane_ceiling.py [--quick]
"""

from __future__ import annotations

import argparse
import heapq
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

from orderops.sim import SimConfig, simulate

SCALING_AIM = 1.6
WIDE = "*"
"""The key a barrier event writes and every other event reads."""

Keys = tuple[frozenset[str], frozenset[str]]
"""(written, read) keys of one event."""


def order_of(event: dict[str, Any]) -> str:
    return str(event["data"].get("order_ref") or event["subject"])


def barrier(wide_kinds: frozenset[str]) -> Callable[[dict[str, Any]], Keys]:
    def keys(event: dict[str, Any]) -> Keys:
        if event["type"] in wide_kinds:
            return frozenset({WIDE}), frozenset()
        return frozenset({f"order:{order_of(event)}"}), frozenset({WIDE})

    return keys


def by_resource(events: list[dict[str, Any]]) -> Callable[[dict[str, Any]], Keys]:
    skus: dict[str, frozenset[str]] = {}
    customers: dict[str, str] = {}
    for event in events:
        if event["type"] == "order.placed":
            data = event["data"]
            skus[data["order_ref"]] = frozenset(f"sku:{line['sku']}" for line in data["lines"])
            customers[data["order_ref"]] = f"customer:{data['customer']['customer_ref']}"

    def keys(event: dict[str, Any]) -> Keys:
        kind, data = event["type"], event["data"]
        if kind == "inventory.level":
            return frozenset({f"sku:{data['sku']}"}), frozenset()
        if kind == "customer.upserted":
            return frozenset({f"customer:{data['customer_ref']}"}), frozenset()
        if kind == "ticket.updated":
            return frozenset({WIDE}), frozenset()
        order = order_of(event)
        written = {f"order:{order}"}
        if kind == "order.placed":
            written.add(customers[order])
        return frozenset(written), skus.get(order, frozenset()) | {WIDE}

    return keys


def steps(
    events: list[dict[str, Any]], keys: Callable[[dict[str, Any]], Keys], workers: int
) -> int:
    """Unit-cost steps ``workers`` need, each step taking the earliest ready events."""
    last_writer: dict[str, int] = {}
    readers: dict[str, list[int]] = {}
    dependents: list[list[int]] = [[] for _ in events]
    waiting = [0] * len(events)
    for i, event in enumerate(events):
        written, read = keys(event)
        before: set[int] = set()
        for key in written | read:
            if key in last_writer:
                before.add(last_writer[key])
        for key in written:
            before.update(readers.get(key, []))
            last_writer[key], readers[key] = i, []
        for key in read - written:
            readers.setdefault(key, []).append(i)
        for j in before:
            dependents[j].append(i)
        waiting[i] = len(before)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    taken = 0
    while ready:
        step = [heapq.heappop(ready) for _ in range(min(workers, len(ready)))]
        taken += 1
        for i in step:
            for j in dependents[i]:
                waiting[j] -= 1
                if waiting[j] == 0:
                    heapq.heappush(ready, j)
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small history")
    args = parser.parse_args()
    config = SimConfig(
        seed=1,
        days=1,
        history_days=1 if args.quick else 4,
        orders_per_day=30 if args.quick else 100,
    )
    events = sorted(simulate(config).events, key=lambda e: (e["time"], e["source"], e["id"]))
    designs: dict[str, Callable[[dict[str, Any]], Keys]] = {
        "today: one tenant lock": barrier(frozenset({e["type"] for e in events})),
        "order lanes, barrier: stock, customers, tickets": barrier(
            frozenset({"inventory.level", "customer.upserted", "ticket.updated"})
        ),
        "order lanes, barrier: stock only": barrier(frozenset({"inventory.level"})),
        "keyed by order, SKU, customer": by_resource(events),
    }
    table = Table("design", "events", "steps, 1 worker", "steps, 2 workers", "ceiling", "aim")
    for name, keys in designs.items():
        one, two = steps(events, keys, 1), steps(events, keys, 2)
        ceiling = one / two
        verdict = "possible" if ceiling >= SCALING_AIM else "out of reach"
        table.add_row(
            name,
            str(len(events)),
            str(one),
            str(two),
            f"{ceiling:.3f}x",
            f">= {SCALING_AIM}x {verdict}",
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
