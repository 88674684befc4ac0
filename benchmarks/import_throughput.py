"""`orderops import` (store only) against a bare batched INSERT of the same rows.

For each database, the simulator's events are written to a JSONL file, then, in the same
scratch database and the same run:

* baseline: the inbox rows those events become, already decoded, INSERTed into a scratch
  table shaped like the inbox (same columns and types, the same unique key and indexes,
  no foreign key) with one executemany per 500 rows, one transaction each: the floor any
  import into that table pays;
* import: ``import_file`` on the JSONL file (read, decode safely, validate each envelope,
  dedupe, COPY / executemany into the inbox, record the run), processing left to workers.

The two alternate ``--repeats`` times (a fresh table, a fresh tenant each time) and the
best time of each is compared, since other work on the machine only ever adds time. The
ratio is also given in CPU time of this process, which a busy machine disturbs less: on
SQLite that is all the work; on PostgreSQL the server's share is left out.
Processing is measured by processing_throughput.py and case_latency.py. Aim: the import runs
at >= 0.5x the speed of the bare insert.

    .venv/bin/python benchmarks/import_throughput.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from _db import scratch_database
from rich.console import Console
from rich.table import Table
from sqlalchemy import Column, Index, Integer, MetaData, String, UniqueConstraint, create_engine
from sqlalchemy import Table as SqlTable

from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.sim import SimConfig, simulate
from orderops.storage.base import JsonType, UtcDateTime, new_id
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.importer import BATCH, ImportFormat, import_file

AIM = 0.5


def sim_events(count: int) -> tuple[list[dict[str, Any]], FixedClock]:
    """At least ``count`` simulated events (then cut to ``count``), and a clock after them."""
    orders_per_day = max(50, count // 35)
    config = SimConfig(seed=1, days=1, history_days=6, orders_per_day=orders_per_day)
    events = simulate(config).events
    if len(events) < count:
        raise SystemExit(f"the simulator gave {len(events)} events, fewer than {count}")
    return events[:count], FixedClock(config.end + timedelta(days=1))


class Timing(NamedTuple):
    wall: float
    cpu: float

    def best(self, other: Timing) -> Timing:
        return Timing(min(self.wall, other.wall), min(self.cpu, other.cpu))


NEVER = Timing(float("inf"), float("inf"))


@contextmanager
def timed(into: list[Timing]) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into.append(Timing(time.perf_counter() - wall, time.process_time() - cpu))


def bare_insert(url: str, events: list[dict[str, Any]], clock: FixedClock, name: str) -> Timing:
    engine = create_engine(url)
    metadata = MetaData()
    table = SqlTable(
        name,
        metadata,
        Column("id", String(32), primary_key=True),
        Column("tenant_id", String(64)),
        Column("source", String(200)),
        Column("event_id", String(200)),
        Column("type", String(64)),
        Column("subject", String(200)),
        Column("event_time", UtcDateTime()),
        Column("received_at", UtcDateTime()),
        Column("envelope", JsonType),
        Column("status", String(16)),
        Column("attempts", Integer),
        UniqueConstraint("tenant_id", "source", "event_id"),
        Index(f"ix_{name}_status", "tenant_id", "status", "received_at"),
        Index(f"ix_{name}_subject", "tenant_id", "subject"),
    )
    metadata.create_all(engine)
    now = clock.now()
    rows = [  # already decoded: the baseline parses and validates nothing
        {
            "tenant_id": "bench",
            "source": e["source"],
            "event_id": e["id"],
            "type": e["type"],
            "subject": e.get("subject"),
            "event_time": datetime.fromisoformat(e["time"]),
            "received_at": now,
            "envelope": e,
            "status": "pending",
            "attempts": 0,
        }
        for e in events
    ]
    took: list[Timing] = []
    with timed(took):
        for start in range(0, len(rows), BATCH):
            part = [{**row, "id": new_id()} for row in rows[start : start + BATCH]]
            with engine.begin() as connection:
                connection.execute(table.insert(), part)
    engine.dispose()
    return took[0]


def store_only_import(app: App, path: Path, count: int, clock: FixedClock, tenant: str) -> Timing:
    ensure_tenant(app.sessions, tenant_id=tenant, name=tenant, clock=clock)
    took: list[Timing] = []
    with timed(took):
        summary = import_file(
            app.sessions, tenant_id=tenant, path=path, fmt=ImportFormat.JSONL, clock=clock
        )
    assert summary.accepted == count, summary.issues[:3]
    return took[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5k events instead of 20k")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each")
    args = parser.parse_args()
    count = 5_000 if args.quick else 20_000
    events, clock = sim_events(count)
    table = Table(
        "database",
        "events",
        "bare insert ev/s",
        "import ev/s",
        "import / bare",
        "same, in CPU",
        "aim",
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events), "utf-8")
        for kind in args.db or ["sqlite", "postgres"]:
            bare, imported = NEVER, NEVER
            with scratch_database(kind) as url:
                app = bootstrap(Settings(database_url=url, demo_mode=True), clock=clock)
                for n in range(args.repeats):
                    bare = bare.best(bare_insert(url, events, clock, f"bench_inbox_{n}"))
                    imported = imported.best(
                        store_only_import(app, path, count, clock, f"bench-{n}")
                    )
                app.close()
            ratio = bare.wall / imported.wall
            table.add_row(
                kind,
                f"{count:,}",
                f"{count / bare.wall:,.0f}",
                f"{count / imported.wall:,.0f}",
                f"{ratio:.2f}x",
                f"{bare.cpu / imported.cpu:.2f}x",
                f">= {AIM}x {'met' if ratio >= AIM else 'NOT met'}",
            )
    Console().print(table)


if __name__ == "__main__":
    main()
