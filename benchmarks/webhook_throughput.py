"""Accepting webhooks and events beside a bare endpoint that only stores the body.

Real servers (uvicorn, one process each, same settings: benchmarks/_servers.py) on the
same scratch database; 50 concurrent senders for ``--seconds`` each run; runs of the two
servers interleaved, ``--repeats`` times. Workloads:

* ``webhooks``: signed Shopify orders/create and Stripe payment_intent.payment_failed
  deliveries built from the real fixtures with fresh ids, POSTed to
  /v1/webhooks/{source}/{token} (cap, verify, store raw, map, store canonical events);
* ``events``: canonical order.placed envelopes POSTed to /v1/events with a service key.

The baseline INSERTs the raw body into one table, one transaction per request. The desk
runs no worker here: this measures what a sender waits for. Aim: >= 0.5x the baseline.

    .venv/bin/python benchmarks/webhook_throughput.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import hashlib
import hmac
import itertools
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _db import scratch_database
from _servers import serve
from rich.console import Console
from rich.table import Table

from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.roles import Role
from orderops.ingest.connections import SecretBox, connect_source
from orderops.tenancy.tenants import ensure_tenant, issue_key

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures"
SECRET = "bench-signing-secret-0123456789abcdef"
AIM = 0.5

Request = tuple[str, dict[str, str], bytes]
"""Path (after the base URL), headers, body."""


class Deliveries:
    """Fresh, signed provider deliveries, alternately Shopify and Stripe, made on demand."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self._tokens = tokens
        self._ids = itertools.count()
        self._order = json.loads(
            (FIXTURES / "shopify/webhook_examples_gadget/orders__create.2026-04.json").read_text()
        )["response"]
        self._intent = json.loads(
            (FIXTURES / "stripe/webhook_events/payment_intent.payment_failed.json").read_text()
        )

    def __call__(self, base: str, bare: bool) -> Request:
        i = next(self._ids)
        now = datetime.now(UTC)
        if i % 2 == 0:
            body = copy.deepcopy(self._order)
            body["id"] = 9_000_000_000 + i
            body["name"] = f"#B{i}"
            body["created_at"] = body["updated_at"] = (now - timedelta(minutes=5)).isoformat()
            raw = json.dumps(body).encode()
            mac = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()
            headers = {
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Webhook-Id": f"wh-{base}-{i}",
                "X-Shopify-Hmac-Sha256": base64.b64encode(mac).decode(),
                "Content-Type": "application/json",
            }
            source = "shopify"
        else:
            event = copy.deepcopy(self._intent)
            event["id"] = f"evt_{i}_{int(now.timestamp() * 1000)}"
            event["created"] = int(now.timestamp()) - 60
            event["data"]["object"]["id"] = f"pi_{i}_{int(now.timestamp() * 1000)}"
            event["data"]["object"].setdefault("metadata", {})["order_id"] = str(
                9_000_000_000 + i - 1
            )
            raw = json.dumps(event).encode()
            stamp = str(int(now.timestamp()))
            mac_hex = hmac.new(
                SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256
            ).hexdigest()
            headers = {
                "Stripe-Signature": f"t={stamp},v1={mac_hex}",
                "Content-Type": "application/json",
            }
            source = "stripe"
        prefix = "/raw" if bare else "/v1/webhooks"
        return f"{prefix}/{source}/{self._tokens[source]}", headers, raw


class Events:
    """Fresh canonical order.placed envelopes for POST /v1/events."""

    def __init__(self, key: str) -> None:
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self._ids = itertools.count()

    def __call__(self, base: str, bare: bool) -> Request:
        i = next(self._ids)
        at = datetime.now(UTC) - timedelta(minutes=5)
        envelope: dict[str, Any] = {
            "specversion": "1.0",
            "id": f"evt-{int(time.time() * 1000)}-{i}",
            "source": "bench://shop",
            "type": "order.placed",
            "time": at.isoformat(),
            "subject": f"o-{i}",
            "data": {
                "order_ref": f"o-{i}-{int(time.time() * 1000)}",
                "number": f"#{i}",
                "currency": "USD",
                "total_minor": 5000,
                "placed_at": at.isoformat(),
                "customer": {"customer_ref": f"c-{i}", "email": f"c{i}@example.com"},
                "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 5000}],
            },
        }
        path = "/raw/events/x" if bare else "/v1/events"
        return path, self._headers, json.dumps(envelope).encode()


async def _load(
    base: str, make: Callable[[str, bool], Request], *, bare: bool, seconds: float, senders: int
) -> tuple[int, int, list[float]]:
    """``senders`` concurrent clients posting for ``seconds``: (2xx, other, latencies)."""
    latencies: list[float] = []
    counts = {"ok": 0, "bad": 0}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def sender() -> None:
            while time.perf_counter() < deadline:
                path, headers, body = make(base, bare)
                started = time.perf_counter()
                answer = await client.post(path, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                counts["ok" if answer.is_success else "bad"] += 1

        await asyncio.gather(*(sender() for _ in range(senders)))
    return counts["ok"], counts["bad"], latencies


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else float("nan")


def _prepare(url: str) -> tuple[dict[str, str], str]:
    app = bootstrap(Settings(database_url=url, demo_mode=True))
    ensure_tenant(app.sessions, tenant_id="bench", name="Bench", clock=app.clock)
    box = SecretBox(app.settings.secret_key)
    tokens = {
        source: connect_source(
            app.sessions,
            tenant_id="bench",
            source=source,
            box=box,
            clock=app.clock,
            actor="bench",
            secret=SECRET,
        ).connection.endpoint_token
        for source in ("shopify", "stripe")
    }
    key = issue_key(
        app.sessions,
        tenant_id="bench",
        name="bench",
        role=Role.SERVICE,
        clock=app.clock,
        service="bench-sender",
    )
    app.close()
    return tokens, key.secret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s runs, one repeat")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--workload", action="append", choices=["webhooks", "events"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--senders", type=int, default=50)
    args = parser.parse_args()
    seconds, repeats = (5.0, 1) if args.quick else (args.seconds, args.repeats)
    table = Table(
        "database",
        "workload",
        "bare /s",
        "bare p99 ms",
        "OrderOps /s",
        "OrderOps p99 ms",
        "refused",
        "ratio",
        "aim",
    )
    for kind in args.db or ["sqlite", "postgres"]:
        with scratch_database(kind) as url:
            tokens, key = _prepare(url)
            makers = {"webhooks": Deliveries(tokens), "events": Events(key)}
            with serve("bare", url) as bare_base, serve("desk", url) as desk_base:
                for workload in args.workload or ["webhooks", "events"]:
                    make = makers[workload]
                    bare_rates, desk_rates, bare_lat, desk_lat, refused = [], [], [], [], 0
                    for _ in range(repeats):
                        ok, _bad, lat = asyncio.run(
                            _load(bare_base, make, bare=True, seconds=seconds, senders=args.senders)
                        )
                        bare_rates.append(ok / seconds)
                        bare_lat += lat
                        ok, bad, lat = asyncio.run(
                            _load(
                                desk_base, make, bare=False, seconds=seconds, senders=args.senders
                            )
                        )
                        desk_rates.append(ok / seconds)
                        desk_lat += lat
                        refused += bad
                    bare_rate = statistics.median(bare_rates)
                    desk_rate = statistics.median(desk_rates)
                    ratio = desk_rate / bare_rate
                    table.add_row(
                        kind,
                        workload,
                        f"{bare_rate:,.0f}",
                        f"{_p99(bare_lat) * 1000:,.0f}",
                        f"{desk_rate:,.0f}",
                        f"{_p99(desk_lat) * 1000:,.0f}",
                        str(refused),
                        f"{ratio:.2f}x",
                        f">= {AIM}x {'met' if ratio >= AIM else 'NOT met'}",
                    )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
