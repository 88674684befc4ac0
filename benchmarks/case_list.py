"""GET /v1/cases under 50 concurrent clients at 100k cases, beside a minimal endpoint.

Issue #19. For each database, 100k cases (--quick: 10k) on as many orders and 20% as
many customers are bulk-inserted (a mix of types, statuses, queues, priorities,
assignees and impact scores over 90 days), the real app is started with uvicorn in a
subprocess, and 50 httpx async clients call one endpoint at a time for --seconds each,
in --rounds interleaved slices (so a busy spell on the machine hits every endpoint):

  minimal     GET /v1/routing-rules: bearer key, one unit of work, one small query (the
              baseline, measured in the same run against the same server)
  first page  GET /v1/cases (50 newest)
  filtered    GET /v1/cases?type=payment_failed&open=true
  cursor      GET /v1/cases?cursor=... each client following next_cursor up to 100 pages
  counted     GET /v1/cases?count=true (for information: the exact total is optional)

It prints requests/s, p50 and p99 per endpoint, p99 / the minimal endpoint's p99, and
the aim: p99 <= 2x the minimal endpoint's.

    .venv/bin/python benchmarks/case_list.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _db import scratch_database, viewer_key
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert

from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.storage.tables import Case, Customer, Order
from orderops.tenancy.tenants import ensure_tenant

TENANT = "bench"
CHUNK = 5_000
AIM = 2.0
TYPES = [
    "payment_failed",
    "shipment_late",
    "inventory_shortfall",
    "fraud_review",
    "refund_pending",
    "shipment_delay_predicted",
]
OPEN_STATUSES = ["new", "triaged", "awaiting_approval", "escalated", "snoozed"]
QUEUES = ["ops", "support", "fraud", "finance"]
PEOPLE = [f"agent-{n}" for n in range(10)]


def preload(app: App, count: int, now: datetime) -> None:
    """``count`` cases on as many orders (a customer per five orders), by executemany INSERT."""
    rng = random.Random(19)
    customers = [uuid.uuid4().hex for _ in range(max(1, count // 5))]
    for first in range(0, len(customers), CHUNK):
        rows = [
            {
                "id": customer_id,
                "tenant_id": TENANT,
                "email": f"{customer_id}@example.com",
                "tier": "standard",
                "created_at": now,
                "updated_at": now,
            }
            for customer_id in customers[first : first + CHUNK]
        ]
        with app.engine.begin() as connection:
            connection.execute(insert(Customer), rows)
    for first in range(0, count, CHUNK):
        orders, cases = [], []
        for n in range(first, min(first + CHUNK, count)):
            order_id, at = uuid.uuid4().hex, now - timedelta(seconds=rng.randrange(90 * 86_400))
            orders.append(
                {
                    "id": order_id,
                    "tenant_id": TENANT,
                    "order_ref": f"pre-{n}",
                    "source": "bench",
                    "customer_id": rng.choice(customers),
                    "status": "open",
                    "financial_status": "paid",
                    "fulfillment_status": "unfulfilled",
                    "currency": "USD",
                    "total_minor": rng.randrange(1_000, 90_000),
                    "placed_at": at,
                    "source_updated_at": at,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            still_open = rng.random() < 0.3
            cases.append(
                {
                    "id": uuid.uuid4().hex,
                    "tenant_id": TENANT,
                    "order_id": order_id,
                    "order_ref": f"pre-{n}",
                    "exception_type": rng.choice(TYPES),
                    "status": rng.choice(OPEN_STATUSES) if still_open else "resolved",
                    "summary": f"preloaded case {n}",
                    "detected_at": at,
                    "opened_at": at,
                    "updated_at": at,
                    "closed_at": None if still_open else at + timedelta(hours=5),
                    "occurrences": 1,
                    "reopen_count": 0,
                    "facts": {"order_ref": f"pre-{n}", "note": "x" * 200},
                    "version": 1,
                    "queue": rng.choice(QUEUES),
                    "priority": f"P{rng.randrange(1, 5)}",
                    "assignee": rng.choice([None, None, *PEOPLE]),
                    "wake_on_event": False,
                    "impact_score": rng.choice([None, rng.randrange(100)]),
                }
            )
        with app.engine.begin() as connection:
            connection.execute(insert(Order), orders)
            connection.execute(insert(Case), cases)
    if app.engine.dialect.name == "postgresql":
        with app.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


# --- the server -------------------------------------------------------------------------


def serve(url: str, port: int) -> None:
    """The subprocess: the real app on ``port`` with one uvicorn worker, as ``serve`` runs."""
    import uvicorn

    from orderops.api.app import create_app

    app = bootstrap(Settings(database_url=url, demo_mode=True), migrate=False)
    uvicorn.run(create_app(app), host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, "--port", str(port)], env=env
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("the server did not start within 60 s")


# --- the load ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


Caller = Callable[[httpx.AsyncClient], Awaitable[bool]]
"""One client's next request; True when it answered 200."""


def fixed(path: str, params: dict[str, str] | None = None) -> Callable[[], Caller]:
    def make() -> Caller:
        async def call(client: httpx.AsyncClient) -> bool:
            return (await client.get(path, params=params)).status_code == 200

        return call

    return make


def following_cursor(pages: int = 100) -> Caller:
    """Each client walks the list page by page, starting over after ``pages`` pages."""
    state: dict[str, Any] = {"cursor": None, "page": 0}

    async def call(client: httpx.AsyncClient) -> bool:
        params = {"cursor": state["cursor"]} if state["cursor"] else None
        response = await client.get("/v1/cases", params=params)
        following = response.json().get("next_cursor") if response.status_code == 200 else None
        state["page"] += 1
        state["cursor"] = following if following and state["page"] < pages else None
        state["page"] = state["page"] if state["cursor"] else 0
        return response.status_code == 200

    return call


async def load(
    base: str, headers: dict[str, str], make: Callable[[], Caller], clients: int, seconds: float
) -> Result:
    latencies: list[float] = []
    counts = {"errors": 0}
    warm_until = time.perf_counter() + 1.0
    stop_at = warm_until + seconds

    async def one_client() -> None:
        call = make()
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=base, headers=headers, limits=limits, timeout=60
        ) as client:
            while (started := time.perf_counter()) < stop_at:
                ok = await call(client)
                if started >= warm_until:  # the first second warms pools and caches
                    latencies.append(time.perf_counter() - started)
                    counts["errors"] += not ok

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return Result(len(latencies), counts["errors"], seconds, latencies)


SCENARIOS: list[tuple[str, Callable[[], Caller]]] = [
    ("minimal: GET /v1/routing-rules", fixed("/v1/routing-rules")),
    ("first page: GET /v1/cases", fixed("/v1/cases")),
    (
        "filtered: ?type=payment_failed&open=true",
        fixed("/v1/cases", {"type": "payment_failed", "open": "true"}),
    ),
    ("cursor: following next_cursor", following_cursor),
    ("counted: ?count=true (optional)", fixed("/v1/cases", {"count": "true"})),
]


def run(
    kind: str, size: int, clients: int, seconds: float, rounds: int
) -> list[tuple[str, Result]]:
    now = datetime.now(UTC)
    with scratch_database(kind) as url:
        app = bootstrap(Settings(database_url=url, demo_mode=True))
        ensure_tenant(app.sessions, tenant_id=TENANT, name="Bench", clock=app.clock)
        secret = viewer_key(app, TENANT)
        started = time.perf_counter()
        preload(app, size, now)
        print(f"{kind}: {size:,} cases loaded in {time.perf_counter() - started:.0f} s")
        app.close()
        server, base = start_server(url)
        try:
            headers = {"Authorization": f"Bearer {secret}"}
            for _, make in SCENARIOS:  # uncounted: connection pools, caches, compiled SQL
                asyncio.run(load(base, headers, make, clients, 1.0))
            slices: dict[str, list[Result]] = {name: [] for name, _ in SCENARIOS}
            for round_ in range(rounds):  # interleaved, so a busy spell hits every endpoint
                for name, make in SCENARIOS:
                    result = asyncio.run(load(base, headers, make, clients, seconds / rounds))
                    slices[name].append(result)
                    print(
                        f"  round {round_ + 1} {name}: {result.rate:.0f} req/s, "
                        f"p99 {result.percentile(0.99):.0f} ms, load {os.getloadavg()[0]:.1f}"
                    )
        finally:
            server.terminate()
            server.wait(timeout=30)
    return [(name, merged(parts)) for name, parts in slices.items()]


def merged(parts: list[Result]) -> Result:
    return Result(
        requests=sum(p.requests for p in parts),
        errors=sum(p.errors for p in parts),
        seconds=sum(p.seconds for p in parts),
        latencies=[latency for p in parts for latency in p.latencies],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k cases instead of 100k")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0, help="per endpoint, all rounds")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved slices per endpoint")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    size = 10_000 if args.quick else 100_000
    table = Table(
        "database",
        "cases",
        "endpoint",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "p99 / minimal",
        f"aim p99 <= {AIM:g}x",
    )
    for kind in args.db or ["sqlite", "postgres"]:
        results = run(kind, size, args.clients, args.seconds, args.rounds)
        base_p99 = results[0][1].percentile(0.99)
        for n, (name, r) in enumerate(results):
            ratio = r.percentile(0.99) / base_p99
            verdict = "" if n == 0 or "optional" in name else ("met" if ratio <= AIM else "MISSED")
            table.add_row(
                kind,
                f"{size:,}",
                name,
                f"{r.rate:.0f}",
                f"{r.percentile(0.5):.1f}",
                f"{r.percentile(0.99):.1f}",
                str(r.errors),
                f"{ratio:.2f}x",
                verdict,
            )
    Console(width=200).print(table)
    print(f"load average at the end: {os.getloadavg()} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
