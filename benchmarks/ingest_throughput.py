"""Event ingestion throughput against a bare insert of the same payloads.

For each database: the simulator's events go (a) straight into a scratch table with one
executemany INSERT per chunk (the floor any store-first design pays), and (b) through
OrderOps' intake, projection and detection. The ratio (b)/(a) is what the desk costs over
merely keeping the bytes.

    .venv/bin/python benchmarks/ingest_throughput.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from _db import scratch_database
from rich.console import Console
from rich.table import Table
from sqlalchemy import Column, MetaData, String, Text, create_engine
from sqlalchemy import Table as SqlTable

from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.ingest.batch import ingest_items
from orderops.sim import SimConfig, simulate
from orderops.workflow.tenants import ensure_tenant

CHUNK = 500


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


def full_path(url: str, events: list[dict[str, Any]], clock: FixedClock) -> float:
    app = bootstrap(Settings(database_url=url, demo_mode=True), clock=clock)
    ensure_tenant(app.sessions, tenant_id="bench", name="Bench", clock=clock)
    started = time.perf_counter()
    report = ingest_items(
        app.sessions, tenant_id="bench", items=events, channel="bench", clock=clock, chunk=CHUNK
    )
    elapsed = time.perf_counter() - started
    assert report.accepted == len(events), report.rejected[:3]
    app.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for a smoke check")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    config = SimConfig(
        seed=1,
        days=1,
        history_days=2 if args.quick else 6,
        orders_per_day=40 if args.quick else 150,
    )
    events = simulate(config).events
    clock = FixedClock(config.end)
    table = Table(
        "database", "events", "bare insert ev/s", "OrderOps ev/s", "ratio (bare/OrderOps)"
    )
    for kind in args.db or ["sqlite", "postgres"]:
        with scratch_database(kind) as url:
            bare = bare_insert(url, events)
        with scratch_database(kind) as url:
            full = full_path(url, events, clock)
        table.add_row(
            kind,
            str(len(events)),
            f"{len(events) / bare:,.0f}",
            f"{len(events) / full:,.0f}",
            f"{full / bare:.1f}x",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
