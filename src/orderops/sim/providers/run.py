"""Writing one simulated store: deliveries, labels, policy and a summary, in one folder."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from orderops.sim.providers import reference
from orderops.sim.providers.census import census
from orderops.sim.providers.deliveries import render, schedule
from orderops.sim.providers.policy import policy_yaml
from orderops.sim.providers.shopify import API_VERSION as SHOPIFY_API
from orderops.sim.providers.store import DEFAULT_START, StoreConfig, build_store
from orderops.sim.providers.stripe import API_VERSION as STRIPE_API
from orderops.sim.providers.wire import utc

DELIVERIES = "deliveries.jsonl"
LABELS = "labels.jsonl"
POLICY = "policy.yaml"
STORE = "store.json"


@dataclass(frozen=True)
class Written:
    folder: Path
    deliveries: int
    labels: int
    summary: dict[str, Any]


def write_store(
    out_dir: Path,
    *,
    seed: int = 7,
    days: float = 10.0,
    orders_per_day: int = 60,
    history_days: int = 4,
    start: datetime = DEFAULT_START,
) -> Written:
    """Simulate the store and write its four files; same arguments, same bytes."""
    config = StoreConfig(
        seed=seed, start=start, days=days, history_days=history_days, orders_per_day=orders_per_day
    )
    store = build_store(config)
    deliveries = schedule(render(store), seed=seed, end=config.end)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(d.line(), separators=(",", ":")) + "\n" for d in deliveries]
    (out_dir / DELIVERIES).write_text("".join(lines), "utf-8")
    (out_dir / POLICY).write_text(policy_yaml(), "utf-8")
    labels = reference.read_files(out_dir / DELIVERIES, out_dir / POLICY, now=config.end)
    reference.write_labels(labels, out_dir / LABELS)
    summary = {
        "format": "webhooks",
        "shop_domain": config.shop_domain,
        "seed": seed,
        "days": days,
        "history_days": history_days,
        "orders_per_day": orders_per_day,
        "window": {"start": utc(config.start), "end": utc(config.end)},
        "history_start": utc(config.history_start),
        "api_versions": {"shopify": SHOPIFY_API, "stripe": STRIPE_API},
        "deliveries": len(deliveries),
        "counts": dict(sorted(Counter(d.draft.provider for d in deliveries).items())),
        "orders": sum(1 for o in store.orders if o.placed_at <= config.end),
        "labels": dict(sorted(Counter(lb.type for lb in labels).items())),
        "conventions": census(store, deliveries),
    }
    (out_dir / STORE).write_text(json.dumps(summary, indent=2) + "\n", "utf-8")
    return Written(out_dir, len(deliveries), len(labels), summary)
