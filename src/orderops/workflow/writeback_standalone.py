"""A writeback worker as its own process: ``python -m orderops.workflow.writeback_standalone``.

Configuration comes from the environment (``ORDEROPS_*`` for the database,
the vendor connections stored per tenant, ``ORDEROPS_WRITEBACK_*`` for the tenant
``ORDEROPS_WRITEBACK_TENANT`` names); the flags only pace it. ``--until-idle`` exits
once no message can still be delivered. ``--fork-server`` imports everything once and then
forks a fresh worker for each ``start <worker-id>`` line on stdin, printing its pid: the
crash test kills those workers with SIGKILL a hundred times without paying the
interpreter's start-up each time.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import timedelta

from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import SystemClock
from orderops.workflow.writeback_worker import (
    WritebackRuntime,
    open_messages,
    run_writeback_once,
    stored_accounts,
)
from orderops.writeback.connections import ConnectorPool
from orderops.writeback.connectors.base import RetryPolicy
from orderops.writeback.policy import DeliveryPolicy


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m orderops.workflow.writeback_standalone")
    parser.add_argument("--worker-id", default=f"standalone-{os.getpid()}")
    parser.add_argument("--until-idle", action="store_true")
    parser.add_argument("--fork-server", action="store_true")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between idle passes")
    parser.add_argument("--lease", type=float, default=60.0, help="lease in seconds")
    parser.add_argument("--base-delay", type=float, default=5.0, help="first backoff, seconds")
    parser.add_argument("--max-delay", type=float, default=3600.0, help="longest backoff, seconds")
    parser.add_argument("--max-attempts", type=int, default=8)
    parser.add_argument("--batch", type=int, default=10)
    return parser.parse_args(argv)


def run_worker(args: argparse.Namespace, worker_id: str, *, announce: bool = False) -> int:
    clock = SystemClock()
    app = bootstrap(Settings(), clock=clock, migrate=False)
    retry = RetryPolicy(
        max_attempts=2, initial_backoff=0.01, max_backoff=0.05, jitter=0.01, max_retry_after=0.5
    )
    runtime = WritebackRuntime(
        connectors=ConnectorPool(stored_accounts(app), clock=clock, retry=retry),
        policy=DeliveryPolicy(
            max_attempts=args.max_attempts,
            base_delay=timedelta(seconds=args.base_delay),
            max_delay=timedelta(seconds=args.max_delay),
            lease=timedelta(seconds=args.lease),
            confirm_delay=timedelta(seconds=args.base_delay),
            batch_size=args.batch,
        ),
    )
    if announce:
        print(f"ready {os.getpid()}", flush=True)
    try:
        while True:
            handled = run_writeback_once(app, worker_id=worker_id, runtime=runtime)
            if handled:
                continue
            if args.until_idle and open_messages(app) == 0:
                return 0
            time.sleep(args.interval)
    finally:
        runtime.close()
        app.close()


def fork_server(args: argparse.Namespace) -> int:
    """Fork one worker per ``start <id>`` line; ``quit`` (or end of input) stops the server."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    for line in sys.stdin:
        command, _, worker_id = line.strip().partition(" ")
        if command == "quit":
            return 0
        if command != "start" or not worker_id:
            print(f"error unknown command {line.strip()!r}", flush=True)
            continue
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os._exit(run_worker(args, worker_id, announce=True))
        print(f"started {pid}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.fork_server:
        return fork_server(args)
    return run_worker(args, args.worker_id)


if __name__ == "__main__":
    raise SystemExit(main())
