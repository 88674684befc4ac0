"""Processing stored events on workers, beside a bare batched INSERT of the same rows.

For each database, the simulator's store history (canonical events) is:

* (a) INSERTed into a scratch table, one executemany per 500 rows: the floor;
* (b) stored in the inbox through the intake (validate, dedupe), 500 per transaction;
* (c) processed by one worker (resolve, project, judge each event's orders, cases):
  events/s and the ratio to (a), aim >= 0.25x, with the SQL statements it sent per event;
* (d) on PostgreSQL, the same history in 4 tenants drained by 1 and then by 2 worker
  processes (a tenant is processed by one worker at a time): the speed-up, aim >= 1.6x;
* (e) on PostgreSQL, the same history in ONE tenant drained by 1 and then by 2 worker
  processes: the speed-up two workers get from sharing one tenant, aim >= 1.6x
  (docs/ORDER_LANES.md: the tenant's processing lock makes them take turns today).

    .venv/bin/python benchmarks/processing_throughput.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from _db import scratch_database
from rich.console import Console
from rich.table import Table
from sqlalchemy import Column, MetaData, String, Text, create_engine, event
from sqlalchemy import Table as SqlTable

from orderops import heap
from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import accept_items
from orderops.sim import SimConfig, simulate
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.pipeline import process_pending

CHUNK = 500
PROCESSING_AIM = 0.25
SCALING_AIM = 1.6
TENANTS = 4

WORKER = """
import sys
import time
from datetime import datetime
from orderops import heap
from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.workflow.worker import drain_inbox, tenants_with_pending
app = bootstrap(Settings(database_url=sys.argv[1], demo_mode=True),
                clock=FixedClock(datetime.fromisoformat(sys.argv[2])), migrate=False)
heap.settle()  # as `orderops worker` does
print("ready", flush=True)
sys.stdin.readline()
while tenants_with_pending(app.sessions):
    drain_inbox(app)
    time.sleep(0.02)  # a tenant another worker holds: wait a moment, as a polling worker would
"""


def bare_insert(url: str, events: list[dict[str, Any]]) -> float:
    engine = create_engine(url)
    metadata = MetaData()
    raw = SqlTable(
        "bench_raw", metadata, Column("id", String(200), primary_key=True), Column("body", Text)
    )
    metadata.create_all(engine)
    started = time.perf_counter()
    for start in range(0, len(events), CHUNK):
        rows = [{"id": e["id"], "body": json.dumps(e)} for e in events[start : start + CHUNK]]
        with engine.begin() as connection:
            connection.execute(raw.insert(), rows)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def store(url: str, events: list[dict[str, Any]], clock: FixedClock, tenants: list[str]) -> float:
    app = bootstrap(Settings(database_url=url, demo_mode=True), clock=clock)
    started = time.perf_counter()
    for tenant in tenants:
        ensure_tenant(app.sessions, tenant_id=tenant, name=tenant, clock=clock)
        for start in range(0, len(events), CHUNK):
            accept_items(
                app.sessions,
                tenant_id=tenant,
                items=events[start : start + CHUNK],
                channel="bench",
                clock=clock,
            )
    elapsed = time.perf_counter() - started
    app.close()
    return elapsed


def process_in_process(url: str, clock: FixedClock, tenant: str) -> tuple[float, int]:
    """Seconds to drain the tenant's inbox, and the SQL statements that took."""
    app = bootstrap(Settings(database_url=url, demo_mode=True), clock=clock, migrate=False)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(app.engine, "before_cursor_execute", count)
    heap.settle()  # as `orderops worker` does
    started = time.perf_counter()
    process_pending(app.sessions, tenant_id=tenant, clock=clock, wait_for_lock=False)
    elapsed = time.perf_counter() - started
    app.close()
    return elapsed, statements


def process_with_workers(url: str, clock: FixedClock, workers: int) -> float:
    """Start ``workers`` processes, let them go at once, time until all have drained."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, clock.now().isoformat()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(workers)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        child.wait()
    return time.perf_counter() - started


def add_scaling_rows(
    table: Table, kind: str, events: list[dict[str, Any]], clock: FixedClock, tenants: list[str]
) -> None:
    """1 and then 2 worker processes drain ``tenants`` (each holding the whole history);
    the rows show each one's events/s and the speed-up of two beside the aim."""
    timings = {}
    for workers in (1, 2):
        with scratch_database(kind) as url:
            store(url, events, clock, tenants)
            timings[workers] = process_with_workers(url, clock, workers)
    speedup = timings[1] / timings[2]
    verdict = "met" if speedup >= SCALING_AIM else "NOT met"
    total = len(events) * len(tenants)
    for workers in (1, 2):
        table.add_row(
            kind,
            f"process {len(tenants)} tenant(s), {workers} worker(s)",
            str(total),
            f"{total / timings[workers]:,.0f}",
            "",
            "1 worker" if workers == 2 else "",
            f"{speedup:.2f}x" if workers == 2 else "",
            f">= {SCALING_AIM}x {verdict}" if workers == 2 else "",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small history, for a smoke check")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    config = SimConfig(
        seed=1,
        days=1,
        history_days=1 if args.quick else 4,
        orders_per_day=30 if args.quick else 100,
    )
    events = simulate(config).events
    clock = FixedClock(config.end)
    n = len(events)
    table = Table(
        "database", "step", "events", "events/s", "stmts/event", "baseline", "ratio", "aim"
    )
    for kind in args.db or ["sqlite", "postgres"]:
        with scratch_database(kind) as url:
            bare = bare_insert(url, events)
        table.add_row(kind, "bare batched INSERT", str(n), f"{n / bare:,.0f}", "", "", "", "")
        with scratch_database(kind) as url:
            stored = store(url, events, clock, ["bench"])
            table.add_row(
                kind,
                "store (intake)",
                str(n),
                f"{n / stored:,.0f}",
                "",
                "bare",
                f"{bare / stored:.2f}x",
                "",
            )
            processed, statements = process_in_process(url, clock, "bench")
            ratio = bare / processed
            verdict = "met" if ratio >= PROCESSING_AIM else "NOT met"
            table.add_row(
                kind,
                "process, 1 worker",
                str(n),
                f"{n / processed:,.0f}",
                f"{statements / n:.1f}",
                "bare",
                f"{ratio:.3f}x",
                f">= {PROCESSING_AIM}x {verdict}",
            )
        if kind != "postgres":
            continue
        for tenants in ([f"t{i}" for i in range(TENANTS)], ["t0"]):
            add_scaling_rows(table, kind, events, clock, tenants)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
