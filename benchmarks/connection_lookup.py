"""What per-tenant vendor connections cost the writeback worker's idle pass.

Each pass, ``deliver_due`` reads the tenant's ``vendor_connections`` rows (in the claim's
own transaction) so that a rotation applies at the next delivery. Per database, one
tenant with all six systems connected: an idle pass (nothing due) with the accounts from
the table, against the baseline of the same pass with the accounts from settings alone
(no read), measured in the same run. Aim: under 2x the baseline.

    .venv/bin/python benchmarks/connection_lookup.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

from _db import scratch_database
from rich.console import Console
from rich.table import Table

from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.domain.vendor_connections import AccountMode, VendorSystem
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.writeback_worker import WritebackRuntime, deliver_due
from orderops.writeback.connections import ConnectorPool, WritebackSettings
from orderops.writeback.vendor_connections import StoredAccounts, add_connection

AIM = 2.0
TENANT = "bench"
NOWHERE = "http://127.0.0.1:9"


def prepare(url: str, clock: FixedClock) -> App:
    app = bootstrap(Settings(database_url=url, demo_mode=True), clock=clock)
    ensure_tenant(app.sessions, tenant_id=TENANT, name="bench", clock=clock)
    for system in VendorSystem:
        stripe = system is VendorSystem.STRIPE
        add_connection(
            app.sessions,
            tenant_id=TENANT,
            system=system,
            base_url=NOWHERE,
            secret="sk_test_bench_key_1" if stripe else "bench-key-0001",
            mode=None if stripe else AccountMode.TEST,
            username="agent@bench.example" if system is VendorSystem.ZENDESK else None,
            allow_test_mode=True,
            secret_key=app.settings.secret_key,
            clock=clock,
            actor="bench",
        )
    return app


def per_pass(app: App, runtime: WritebackRuntime, passes: int) -> float:
    started = time.perf_counter()
    for _ in range(passes):
        deliver_due(app, runtime, tenant_id=TENANT, worker_id="bench")
    return (time.perf_counter() - started) / passes


def measure(kind: str, passes: int, rounds: int) -> tuple[float, float]:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    with scratch_database(kind) as url:
        app = prepare(url, clock)
        try:
            settings = WritebackSettings(
                _env_file=None,
                tenant=TENANT,
                allow_test_mode=True,
                **{f"{system}_url": NOWHERE for system in VendorSystem},
            )
            stored = WritebackRuntime(
                connectors=ConnectorPool(
                    StoredAccounts(app.sessions, secret_key=app.settings.secret_key), clock=clock
                )
            )
            baseline = WritebackRuntime(connectors=ConnectorPool(settings, clock=clock))
            per_pass(app, stored, passes // 10)
            per_pass(app, baseline, passes // 10)
            table, alone = [], []
            for _ in range(rounds):  # interleaved, so both see the same machine
                table.append(per_pass(app, stored, passes))
                alone.append(per_pass(app, baseline, passes))
            return statistics.median(table), statistics.median(alone)
        finally:
            app.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    passes, rounds = (50, 3) if args.quick else (200, 5)
    out = Table(title="idle writeback pass, one tenant, six connections")
    for column in ("database", "table (ms)", "settings only (ms)", "ratio", f"aim < {AIM}x"):
        out.add_column(column)
    for kind in args.db or ["sqlite", "postgres"]:
        table, alone = measure(kind, passes, rounds)
        ratio = table / alone
        out.add_row(
            kind,
            f"{table * 1e3:.3f}",
            f"{alone * 1e3:.3f}",
            f"{ratio:.2f}x",
            "met" if ratio < AIM else "MISSED",
        )
    Console().print(out)


if __name__ == "__main__":
    main()
