"""The lag read behind /metrics (``workflow/lag.py``) on a long inbox history.

/metrics runs ``inbox_lag`` at every scrape, so its cost must follow the rows still
waiting, not the processed history. Per database: 20 tenants with the same waiting rows
(pending, deferred, failed) are measured (a) alone, the baseline, then (b) after a long
history of processed rows is added to the same inbox. Aim: (b)/(a) under 2x. Beside it,
for scale, the same counts by a plain ``GROUP BY tenant_id, status`` over the inbox, the
form ``lag.py`` avoids because it reads the whole history.

    .venv/bin/python benchmarks/lag_query.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from _db import scratch_database
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, text

from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.lag import inbox_lag

TENANTS = 20
WAITING = 4000
AIM = 2.0
NOW = datetime(2026, 1, 1, tzinfo=UTC)
PLAIN = text(
    "SELECT tenant_id, status, count(*), min(received_at) FROM inbox "
    "WHERE status IN ('pending', 'deferred', 'failed') GROUP BY tenant_id, status"
)

# Rows n = first..last: tenant n % TENANTS, received n seconds before 2025-12-31.
_ROWS = {
    "postgresql": """
        INSERT INTO inbox (id, tenant_id, source, event_id, type, event_time, received_at,
                           envelope, status, attempts)
        SELECT md5(:tag || n), 't' || (n % {tenants}), 'bench', :tag || n, 'order.placed',
               TIMESTAMPTZ '2025-12-31', TIMESTAMPTZ '2025-12-31' - n * INTERVAL '1 second',
               '{{}}'::jsonb, {status}, 0
        FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n""",
    "sqlite": """
        WITH RECURSIVE s(n) AS (SELECT :first UNION ALL SELECT n + 1 FROM s WHERE n < :last)
        INSERT INTO inbox (id, tenant_id, source, event_id, type, event_time, received_at,
                           envelope, status, attempts)
        SELECT hex(randomblob(16)), 't' || (n % {tenants}), 'bench', :tag || n, 'order.placed',
               '2025-12-31 00:00:00.000000',
               strftime('%Y-%m-%d %H:%M:%f', '2025-12-31', '-' || n || ' seconds'),
               '{{}}', {status}, 0
        FROM s""",
}
_WAITING_STATUS = (
    "CASE n % 10 WHEN 0 THEN 'failed' WHEN 1 THEN 'deferred' WHEN 2 THEN 'deferred' "
    "ELSE 'pending' END"
)


def insert_rows(engine: Engine, *, tag: str, count: int, status: str) -> None:
    sql = text(_ROWS[engine.dialect.name].format(tenants=TENANTS, status=status))
    step = 200_000
    for first in range(1, count + 1, step):
        with engine.begin() as connection:
            connection.execute(
                sql, {"tag": tag, "first": first, "last": min(first + step - 1, count)}
            )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE inbox"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def median_ms(read: Callable[[], object], repeats: int) -> float:
    read()  # warm the pool and the plan cache
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(app: App, repeats: int) -> tuple[float, float]:
    def plain() -> object:
        with app.engine.connect() as connection:
            return connection.execute(PLAIN).all()

    lag = median_ms(lambda: inbox_lag(app.sessions, now=NOW), repeats)
    return lag, median_ms(plain, repeats)


def run(kind: str, history: int, repeats: int) -> list[str]:
    with scratch_database(kind) as url:
        app = bootstrap(Settings(database_url=url, demo_mode=True), clock=FixedClock(NOW))
        for n in range(TENANTS):
            ensure_tenant(app.sessions, tenant_id=f"t{n}", name=f"t{n}", clock=app.clock)
        insert_rows(app.engine, tag="w", count=WAITING, status=_WAITING_STATUS)
        base_lag, base_plain = measure(app, repeats)
        expected = inbox_lag(app.sessions, now=NOW)
        insert_rows(app.engine, tag="h", count=history, status="'processed'")
        lag, plain = measure(app, repeats)
        assert inbox_lag(app.sessions, now=NOW) == expected  # history changes no figure
        app.close()
    ratio = lag / base_lag
    return [
        kind,
        f"{WAITING:,} / {history:,}",
        f"{base_lag:.1f}",
        f"{lag:.1f}",
        f"{ratio:.2f}x ({'met' if ratio < AIM else 'MISSED'})",
        f"{base_plain:.1f} -> {plain:.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for a smoke check")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    history = 100_000 if args.quick else 1_000_000
    repeats = 5 if args.quick else 21
    table = Table(
        "database",
        "waiting / processed rows",
        "baseline ms (no history)",
        "lag read ms",
        f"ratio (aim < {AIM:.0f}x)",
        "plain GROUP BY ms",
    )
    for kind in args.db or ["sqlite", "postgres"]:
        table.add_row(*run("postgresql" if kind == "postgres" else kind, history, repeats))
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
