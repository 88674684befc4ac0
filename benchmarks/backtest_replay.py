"""How fast a backtest replays a recorded window (issue #17 item 1).

A simulated store (``--days`` at ``--orders`` a day; ``--quick``: 2 days at 200) is
recorded into a live desk: every event stored in the inbox at the time it happened (a
tick at a time, as the replay reads them back). Then, in the same run:

* baseline: the live worker draining that inbox (``process_pending`` then one sweep pass,
  the work the desk did live, without the hours of simulated sweeps);
* replay: one replay of a backtest (``workflow.backtest.replay``: a fresh migrated scratch
  desk, the tenant's configuration copied, the events fed tick by tick with the worker's
  sweep pass on every simulated hour, recommendations accepted).

It prints both rates, their ratio, and the projected time of a backtest of 30 days of a
1,000-orders-a-day store (two replays; events per order as in this run). The aim: minutes.
Beside the wall time it prints each part's CPU time (on a shared machine the steadier
figure) and the SQL statements it sent per event. Both parts run with the collector
settled as in the worker process that runs requested backtests (``orderops.heap``);
``--default-gc`` leaves Python's defaults, as ``orderops backtest`` runs today.

    .venv/bin/python benchmarks/backtest_replay.py [--quick] [--days 7 --orders 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import event as sql_event
from sqlalchemy.engine import Engine
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from orderops import heap
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import accept_items
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file, store_policy
from orderops.sim import SimConfig, simulate
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.backtest import replay
from orderops.workflow.backtest_replay import Pace, sweep_pass
from orderops.workflow.pipeline import process_pending

TENANT = "bench"
TICK = timedelta(minutes=5)
STATEMENTS = [0]
"""SQL statements sent by any engine (the live desk's and the scratch desks')."""


@sql_event.listens_for(Engine, "before_cursor_execute")
def _count(*_: object) -> None:
    STATEMENTS[0] += 1


def record(app: App, clock: FixedClock, events: list[dict[str, object]]) -> None:
    """Store the events as the live desk received them: a tick at a time, at its last one."""
    batch: list[dict[str, object]] = []
    for event in events:
        at = datetime.fromisoformat(str(event["time"]))
        if batch and at - datetime.fromisoformat(str(batch[0]["time"])) >= TICK:
            clock.set(datetime.fromisoformat(str(batch[-1]["time"])))
            accept_items(app.sessions, tenant_id=TENANT, items=batch, channel="bench", clock=clock)
            batch = []
        batch.append(event)
    if batch:
        clock.set(datetime.fromisoformat(str(batch[-1]["time"])))
        accept_items(app.sessions, tenant_id=TENANT, items=batch, channel="bench", clock=clock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 days at 200 orders a day")
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--orders", type=int, default=1000, help="orders a day")
    parser.add_argument(
        "--default-gc", action="store_true", help="leave the collector at Python's defaults"
    )
    args = parser.parse_args()
    days, orders = (2.0, 200) if args.quick else (args.days, args.orders)
    config = SimConfig(seed=5, days=days, history_days=0, orders_per_day=orders, tenant=TENANT)
    events = simulate(config).events
    console = Console()
    console.print(f"{len(events):,} events: {days:g} days at {orders} orders a day")

    with tempfile.TemporaryDirectory() as folder:
        clock = FixedClock(config.start)
        settings = Settings(
            database_url=f"sqlite:///{Path(folder) / 'live.db'}",
            data_dir=Path(folder),
            demo_mode=True,
        )
        app = bootstrap(settings, clock=clock)
        ensure_tenant(app.sessions, tenant_id=TENANT, name="Bench", clock=clock)
        store_policy(
            app.sessions,
            tenant_id=TENANT,
            policy=load_policy_file(EXAMPLE_POLICY),
            actor="bench",
            clock=clock,
        )
        record(app, clock, events)
        clock.set(config.end)
        if not args.default_gc:
            heap.settle()  # as the worker does before it serves, backtests included

        started, cpu, STATEMENTS[0] = time.perf_counter(), time.process_time(), 0
        with threadpool_limits(limits=1):
            process_pending(app.sessions, tenant_id=TENANT, clock=clock)
            sweep_pass(app, tenant_id=TENANT, clock=clock)
        worker_seconds = time.perf_counter() - started
        worker_cpu, worker_statements = time.process_time() - cpu, STATEMENTS[0]

        started, cpu, STATEMENTS[0] = time.perf_counter(), time.process_time(), 0
        _, fed = replay(app, tenant_id=TENANT, start=config.start, end=config.end, pace=Pace())
        replay_seconds = time.perf_counter() - started
        replay_cpu, replay_statements = time.process_time() - cpu, STATEMENTS[0]
        app.close()

    worker_rate, replay_rate = len(events) / worker_seconds, fed / replay_seconds
    per_order = len(events) / (orders * days)
    projected = 2 * 30 * 1000 * per_order / replay_rate  # a backtest is two replays
    table = Table(title="Backtest replay (SQLite scratch desk)")
    for column in ("what", "events", "seconds", "events/s", "CPU s", "statements/event"):
        table.add_column(column, justify="right" if column != "what" else "left")
    table.add_row(
        "live worker (baseline)",
        f"{len(events):,}",
        f"{worker_seconds:.1f}",
        f"{worker_rate:,.0f}",
        f"{worker_cpu:.1f}",
        f"{worker_statements / len(events):.1f}",
    )
    table.add_row(
        "backtest replay",
        f"{fed:,}",
        f"{replay_seconds:.1f}",
        f"{replay_rate:,.0f}",
        f"{replay_cpu:.1f}",
        f"{replay_statements / max(fed, 1):.1f}",
    )
    console.print(table)
    cpu_ratio = (fed / replay_cpu) / (len(events) / worker_cpu)
    console.print(
        f"ratio replay / worker: {replay_rate / worker_rate:.2f}x (in CPU time {cpu_ratio:.2f}x); "
        f"projected backtest of 30 days at 1,000 orders a day ({per_order:.1f} events an "
        f"order, two replays): {projected / 60:,.0f} min"
    )


if __name__ == "__main__":
    main()
