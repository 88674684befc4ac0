"""What shadow mode costs the pipeline (issue #17 item 2, issue #19).

The simulator's store history is stored in the inbox of one tenant per run, all in one
database, then each tenant's inbox is drained by one in-process worker, in turn (after a
warm-up tenant; "off" and "no candidate" twice each, alternating):

* ``off``: the shadow hook stubbed out (no lookup at all), the pipeline as before it;
* ``no candidate``: the code as shipped, for a tenant that runs no candidate (one lookup
  per chunk);
* ``equal candidate``: a running candidate equal to the live policy;
* ``lower threshold``: a running candidate with the fraud threshold at 50.

Each row gives events/s and SQL statements per event; the first two should not differ
beyond noise and one statement per chunk (100 events).

    .venv/bin/python benchmarks/shadow_overhead.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import yaml
from _db import scratch_database
from processing_throughput import store
from rich.console import Console
from rich.table import Table
from sqlalchemy import event

from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file
from orderops.sim import SimConfig, simulate
from orderops.workflow import pipeline, shadow
from orderops.workflow.pipeline import process_pending

RUNS = (
    "warm-up",
    "off",
    "no candidate",
    "off",
    "no candidate",
    "equal candidate",
    "lower threshold",
)
"""Off and no candidate alternate, after a warm-up run (caches, the first connections)."""


def _candidate(run: str) -> str | None:
    if run == "equal candidate":
        return "{}\n"
    if run == "lower threshold":
        document = load_policy_file(EXAMPLE_POLICY).model_dump(mode="json")
        document["detectors"] = {"fraud_review": {"thresholds": {"risk_score": 50}}}
        return str(yaml.safe_dump({"fulfillment_policy": document}))
    return None


def drain(url: str, clock: FixedClock, tenant: str, run: str) -> tuple[float, int]:
    app = bootstrap(Settings(database_url=url, demo_mode=True), clock=clock, migrate=False)
    text = _candidate(run)
    if text is not None:
        shadow.start(app.sessions, tenant_id=tenant, text=text, actor="bench", clock=clock)
    original = pipeline.running_shadow
    if run in {"off", "warm-up"}:
        pipeline.running_shadow = lambda uow: None  # type: ignore[assignment]
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(app.engine, "before_cursor_execute", count)
    try:
        started = time.perf_counter()
        process_pending(app.sessions, tenant_id=tenant, clock=clock, wait_for_lock=False)
        elapsed = time.perf_counter() - started
    finally:
        pipeline.running_shadow = original  # type: ignore[assignment]
        app.close()
    return elapsed, statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small history, for a smoke check")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    config = SimConfig(
        seed=1,
        days=1,
        history_days=1 if args.quick else 3,
        orders_per_day=30 if args.quick else 100,
    )
    events = simulate(config).events
    clock = FixedClock(config.end)
    n = len(events)
    table = Table("database", "run", "events", "seconds", "events/s", "stmts/event", "vs off")
    for kind in args.db or ["sqlite", "postgres"]:
        with scratch_database(kind) as url:
            tenants = [f"t{i}" for i in range(len(RUNS))]
            store(url, events, clock, tenants)
            baseline = 0.0
            for tenant, run in zip(tenants, RUNS, strict=True):
                seconds, statements = drain(url, clock, tenant, run)
                if run == "warm-up":
                    continue
                baseline = baseline or seconds
                table.add_row(
                    kind,
                    run,
                    str(n),
                    f"{seconds:.2f}",
                    f"{n / seconds:,.0f}",
                    f"{statements / n:.2f}",
                    f"{seconds / baseline:.2f}x",
                )
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
