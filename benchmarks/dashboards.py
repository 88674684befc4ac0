"""The console's dashboards, a bar's drill-down, a chart's CSV and the audit page (issue #14).

For each database, --cases cases opened over 30 days (each on its own order with a
customer and a line; 60 % closed 3 h later) and one audit record per case are written in
one transaction, then each page is asked --views times by a signed-in admin through the
real app (TestClient, no network), PostgreSQL after ANALYZE (fresh tables without
statistics plan the drill-down's joins badly: about 0.8 s instead of 0.3 s at 5,000 cases).
Printed: p50 / max milliseconds. Aim: every page under 0.7 s, the console's budget before
issue #14.

    .venv/bin/python benchmarks/dashboards.py [--cases 5000] [--views 5] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _db import scratch_database
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the builders

from builders.console import console_person, signed_in
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import Case, Customer, Order, OrderLineRow
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant

AIM_MS = 700.0
SPAN = "from=2026-10-22&to=2026-11-20"
PAGES = (
    f"/console/dashboards?{SPAN}",
    f"/console/dashboards/cases?chart=sku&key=S1&{SPAN}",
    f"/console/dashboards.csv?chart=sku&{SPAN}",
    "/console/audit",
    "/console/audit?before={half}",
    "/console/audit?action=case.&actor=sla&from=2026-11-01&to=2026-11-10",
)


def seed(app: App, clock: FixedClock, cases: int) -> None:
    rnd = random.Random(1)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        for i in range(cases):
            at = clock.now() - timedelta(days=rnd.randint(0, 29), minutes=rnd.randint(0, 1400))
            person = Customer(
                tenant_id="acme", name=f"C{i % 500}", tier="standard", created_at=at, updated_at=at
            )
            uow.session.add(person)
            uow.session.flush()
            order = Order(
                tenant_id="acme",
                order_ref=f"o-{i}",
                source="bench",
                customer_id=person.id,
                status="open",
                financial_status="paid",
                fulfillment_status="unfulfilled",
                currency="USD",
                total_minor=5000,
                placed_at=at,
                location=f"WH{i % 5}",
                ship_to={"country": "US"},
                source_updated_at=at,
                created_at=at,
                updated_at=at,
            )
            uow.session.add(order)
            uow.session.flush()
            uow.session.add(
                OrderLineRow(
                    tenant_id="acme",
                    order_id=order.id,
                    position=0,
                    sku=f"S{i % 40}",
                    quantity=1,
                    unit_price_minor=5000,
                )
            )
            closed = rnd.random() < 0.6
            uow.session.add(
                Case(
                    tenant_id="acme",
                    order_id=order.id,
                    order_ref=order.order_ref,
                    exception_type="shipment_late",
                    status="resolved" if closed else "new",
                    summary="bench",
                    detected_at=at,
                    opened_at=at,
                    updated_at=at,
                    closed_at=at + timedelta(hours=3) if closed else None,
                    facts={},
                    queue="ops",
                )
            )
            uow.audit.append(
                at=at,
                actor="sla",
                action="case.opened",
                entity_type="case",
                entity_id=f"e{i}",
                data={},
            )
        uow.commit()


def run(kind: str, cases: int, views: int) -> list[tuple[str, list[float]]]:
    clock = FixedClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    with scratch_database(kind) as url, tempfile.TemporaryDirectory() as data:
        app = bootstrap(
            Settings(database_url=url, data_dir=Path(data), demo_mode=True), clock=clock
        )
        ensure_tenant(app.sessions, tenant_id="acme", name="Acme", clock=clock)
        seed(app, clock, cases)
        if kind == "postgres":  # statistics, as autovacuum keeps them on a live database
            with app.sessions() as session:
                session.execute(text("ANALYZE"))
                session.commit()
        client = signed_in(app, console_person(app, clock, role=Role.ADMIN))
        rows = []
        for page in PAGES:
            path = page.replace("{half}", str(cases // 2))
            assert client.get(path).status_code == 200, path  # warm
            times = []
            for _ in range(views):
                start = time.perf_counter()
                answer = client.get(path)
                times.append((time.perf_counter() - start) * 1000)
                assert answer.status_code == 200, path
            rows.append((path, times))
        app.close()
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--views", type=int, default=5)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    table = Table(title=f"Dashboards and audit, {args.cases} cases (aim < {AIM_MS:.0f} ms)")
    for column in ("db", "page", "p50 ms", "max ms"):
        table.add_column(column)
    for kind in args.db or ["sqlite", "postgres"]:
        for path, times in run(kind, args.cases, args.views):
            table.add_row(kind, path[:60], f"{statistics.median(times):.0f}", f"{max(times):.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
