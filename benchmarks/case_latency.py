"""Event accepted -> case visible, and how it grows with the number of open cases.

For each database and each pre-load size (0, then 10k and 100k open cases; --quick: 1k
and 10k), a failed payment for a fresh order is accepted (stored in the inbox, as the
webhook and event endpoints do), a worker thread running the real loop (woken by the
accept, as in ``orderops serve``) processes it, and GET /v1/cases?order_ref=... is polled
until the case shows; with ``--load N`` a sender thread accepts N other events a second
meanwhile (the aim: p99 <= 1 s at half the accept rate; <= 50 ms idle at 100k cases); p50 and p99 of
that latency are printed beside the same measurement on the empty database (the
baseline, same run), with their ratios. The plain GET is timed too, to separate the
list query from the pipeline. ``--worker process`` runs the worker in a process of its
own at the default poll, as ``orderops worker`` beside ``orderops serve`` does: on
PostgreSQL it is woken by the inbox trigger's NOTIFY, on SQLite only by its poll. Either
way the worker runs its full passes (sweeps, SLA jeopardy, recommendations) at the
default interval, as the real one does, and timing starts once its start-up pass (which
loads the models and judges the pre-loaded backlog once) is over.
Open cases are pre-loaded by bulk INSERT (orders, cases and the recommendation each would
have had, so the worker's first full pass does not spend the run recommending for
them), not through the pipeline, so a 100k run takes a minute, not an hour.

    .venv/bin/python benchmarks/case_latency.py [--quick] [--db sqlite --db postgres]
        [--load N] [--worker thread|process]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from _db import scratch_database, viewer_key
from _servers import worker_process
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from orderops.api.app import create_app
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.domain.policy import parse_policy
from orderops.ingest.intake import accept_items
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file, store_policy
from orderops.storage.tables import Case, Order
from orderops.storage.tables.recommend import Recommendation
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.worker import run_forever, run_once

TENANT = "bench"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CHUNK = 5_000


def _event(type_: str, data: dict[str, Any], *, at: datetime, source: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"evt-{uuid.uuid4().hex}",
        "source": source,
        "type": type_,
        "time": at.isoformat(),
        "subject": data["order_ref"],
        "data": data,
    }


def failed_payment_events(order_ref: str) -> list[dict[str, Any]]:
    placed = NOW - timedelta(hours=2)
    order = {
        "order_ref": order_ref,
        "number": order_ref,
        "currency": "USD",
        "total_minor": 5_000,
        "placed_at": placed.isoformat(),
        "promised_by": (placed + timedelta(days=5)).isoformat(),
        "customer": {"customer_ref": f"c-{order_ref}", "email": f"{order_ref}@example.com"},
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 5_000}],
    }
    paid = {
        "payment_ref": f"pi_{order_ref}",
        "order_ref": order_ref,
        "provider": "stripe",
        "status": "failed",
        "amount_minor": 5_000,
        "currency": "USD",
        "failure_code": "card_declined",
    }
    return [
        _event("order.placed", order, at=placed, source="bench://shop"),
        _event("payment.updated", paid, at=placed + timedelta(minutes=5), source="bench://stripe"),
    ]


def preload(app: App, count: int, *, start: int) -> None:
    """``count`` open cases on as many orders, by executemany INSERT in chunks."""
    for first in range(start, start + count, CHUNK):
        last = min(first + CHUNK, start + count)
        orders, cases, recommended = [], [], []
        for n in range(first, last):
            order_id, at = uuid.uuid4().hex, NOW - timedelta(minutes=n % 50_000)
            orders.append(
                {
                    "id": order_id,
                    "tenant_id": TENANT,
                    "order_ref": f"pre-{n}",
                    "source": "bench",
                    "status": "open",
                    "financial_status": "paid",
                    "fulfillment_status": "unfulfilled",
                    "currency": "USD",
                    "total_minor": 1_000 + n % 90_000,
                    "placed_at": at,
                    "source_updated_at": at,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            cases.append(
                {
                    "id": uuid.uuid4().hex,
                    "tenant_id": TENANT,
                    "order_id": order_id,
                    "order_ref": f"pre-{n}",
                    "exception_type": "shipment_late",
                    "status": "new",
                    "summary": "preloaded",
                    "detected_at": at,
                    "opened_at": at,
                    "updated_at": at,
                    "occurrences": 1,
                    "reopen_count": 0,
                    "facts": {},
                    "version": 1,
                    "queue": "ops",
                    "priority": "P3",
                    "wake_on_event": False,
                    "impact_score": n % 100,
                    "jeopardy": "on_track",
                }
            )
            recommended.append(
                {
                    "id": uuid.uuid4().hex,
                    "tenant_id": TENANT,
                    "case_id": cases[-1]["id"],
                    "order_ref": f"pre-{n}",
                    "exception_type": "shipment_late",
                    "policy": "preloaded",
                    "body": {},
                    "created_by": "preload",
                    "created_at": at,
                }
            )
        with app.engine.begin() as connection:
            connection.execute(Order.__table__.insert(), orders)
            connection.execute(Case.__table__.insert(), cases)
            connection.execute(Recommendation.__table__.insert(), recommended)
    with app.engine.begin() as connection:
        if app.engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(
    app: App, client: TestClient, headers: dict[str, str], samples: int
) -> dict[str, float]:
    """Milliseconds: event accepted -> case visible (p50, p99) and the bare GET (p50)."""
    visible: list[float] = []
    gets: list[float] = []
    for sample in range(samples + 1):
        ref = f"b-{uuid.uuid4().hex[:12]}"
        started = time.perf_counter()
        accept_items(
            app.sessions,
            tenant_id=TENANT,
            items=failed_payment_events(ref),
            channel="bench",
            clock=app.clock,
        )
        while True:
            asked = time.perf_counter()
            body = client.get("/v1/cases", params={"order_ref": ref}, headers=headers).json()
            gets.append(time.perf_counter() - asked)
            if body["items"]:
                break
            time.sleep(0.002)  # a reader polling, not a spin that starves a worker thread
            if time.perf_counter() - started > 30:
                raise RuntimeError(f"case for {ref} never became visible")
        if sample:  # the first round warms caches and connections; it is not counted
            visible.append(time.perf_counter() - started)
    return {
        "p50": 1000 * statistics.median(visible),
        "p99": 1000 * percentile(visible, 0.99),
        "get": 1000 * statistics.median(gets),
    }


def declines_at_once(app: App) -> None:
    """A decline opens its case from its own event (no grace window), so what is timed is
    the event path, not the next sweep."""
    document = load_policy_file(EXAMPLE_POLICY).model_dump(mode="json")
    document["detectors"] = {"payment_failed": {"thresholds": {"grace_minutes": 0}}}
    store_policy(
        app.sessions,
        tenant_id=TENANT,
        policy=parse_policy(document),
        actor="bench",
        clock=app.clock,
    )


def send_load(app: App, rate: float, stop: threading.Event) -> None:
    """Accept ``rate`` other events a second (orders placed) until ``stop``."""
    while not stop.is_set():
        started = time.perf_counter()
        ref = f"l-{uuid.uuid4().hex[:12]}"
        accept_items(
            app.sessions,
            tenant_id=TENANT,
            items=failed_payment_events(ref)[:1],
            channel="load",
            clock=app.clock,
        )
        stop.wait(max(0.0, 1 / rate - (time.perf_counter() - started)))


def run(
    kind: str, sizes: list[int], samples: int, load: float, separate: bool
) -> list[tuple[int, dict[str, float]]]:
    results = []
    with scratch_database(kind) as url:
        # The reader polls every 2 ms on a clock that never moves: no API limit may refill.
        unlimited = "1000000000/day"
        settings = Settings(
            database_url=url,
            demo_mode=True,
            rate_limit_api_per_tenant=unlimited,
            rate_limit_api_per_key=unlimited,
        )
        app = bootstrap(settings, clock=FixedClock(NOW))
        ensure_tenant(app.sessions, tenant_id=TENANT, name="Bench", clock=app.clock)
        declines_at_once(app)
        secret = viewer_key(app, TENANT)
        headers = {"Authorization": f"Bearer {secret}"}
        loaded = 0
        with TestClient(create_app(app)) as client:
            for size in sizes:
                preload(app, size - loaded, start=loaded)
                loaded = size
                stop = threading.Event()
                threads = []
                if not separate:
                    threads.append(
                        threading.Thread(
                            target=run_forever,
                            kwargs={
                                "app": app,
                                "stop": stop,
                                "interval": settings.sweep_interval_seconds,
                                "poll": 0.05,
                            },
                        )
                    )
                    run_once(app, writeback=False)  # its start-up pass, before the clock
                if load:
                    threads.append(threading.Thread(target=send_load, args=(app, load, stop)))
                for thread in threads:
                    thread.start()
                try:
                    with worker_process(url) if separate else nullcontext():
                        results.append((size, measure(app, client, headers, samples)))
                finally:
                    stop.set()
                    for thread in threads:
                        thread.join()
        app.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k open cases")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--load", type=float, default=0.0, help="other events accepted per second")
    parser.add_argument(
        "--worker",
        choices=["thread", "process"],
        default="thread",
        help="the worker in this process (woken by the accept, as in `orderops serve`) or in "
        "its own (`orderops worker`, at the default poll; woken by NOTIFY on PostgreSQL)",
    )
    args = parser.parse_args()
    sizes = [0, 1_000, 10_000] if args.quick else [0, 10_000, 100_000]
    samples = args.samples or (30 if args.quick else 100)
    table = Table(
        "database",
        "open cases",
        "visible p50 ms",
        "visible p99 ms",
        "GET p50 ms",
        "p50 / empty",
        "p99 / empty",
    )
    for kind in args.db or ["sqlite", "postgres"]:
        results = run(kind, sizes, samples, args.load, args.worker == "process")
        base = results[0][1]
        for size, r in results:
            table.add_row(
                kind,
                f"{size:,}",
                f"{r['p50']:.1f}",
                f"{r['p99']:.1f}",
                f"{r['get']:.1f}",
                f"{r['p50'] / base['p50']:.2f}x",
                f"{r['p99'] / base['p99']:.2f}x",
            )
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
