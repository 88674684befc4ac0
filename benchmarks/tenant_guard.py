"""What tenant isolation costs per statement: the ORM guard, and row-level security.

A unit of work bound to a tenant adds ``tenant_id = :tenant`` to each ORM statement
(``storage/tenant_guard.py``); on PostgreSQL the app role is also held to the policies of
migration 0021. Both must cost little next to the statement itself. Per database, the
same ORM reads (an order by its key, the same order by ``session.get``, a page of cases
joined to their orders), the repositories' usual shape with their own tenant filter, are
timed in rounds, interleaved:

- baseline: a session bound to no tenant (no guard), as the migrating superuser;
- guard: a unit of work bound to the tenant, same role;
- guard + RLS (PostgreSQL): the same unit of work with ``SET ROLE orderops_app``, so the
  policies apply as they do to the application's login.

Aim: guard + RLS within 1.25x of the baseline.

    .venv/bin/python benchmarks/tenant_guard.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from _db import scratch_database
from rich.console import Console
from rich.table import Table
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.storage.engine import make_engine, make_session_factory
from orderops.storage.migrate import DEFAULT_APP_ROLE
from orderops.storage.tables import Case, Order
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.batch import ingest_items

AIM = 1.25
NOW = datetime(2026, 1, 1, tzinfo=UTC)
TENANTS = ("acme", "globex")


def _orders(count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        at = NOW - timedelta(days=10, minutes=n)
        yield {
            "specversion": "1.0",
            "id": f"evt-{n}",
            "source": "bench://shop",
            "type": "order.placed",
            "time": at.isoformat(),
            "subject": f"o-{n}",
            "data": {
                "order_ref": f"o-{n}",
                "number": str(1000 + n),
                "currency": "USD",
                "total_minor": 5000,
                "placed_at": at.isoformat(),
                "promised_by": (at + timedelta(days=3)).isoformat(),
                "service_level": "standard",
                "customer": {"customer_ref": f"c-{n}", "email": f"c{n}@example.com"},
                "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": 5000}],
            },
        }


def _reads(session: Session, tenant: str, order_id: str) -> None:
    session.scalars(select(Order).where(Order.tenant_id == tenant, Order.order_ref == "o-7")).one()
    session.expunge_all()
    session.get(Order, order_id)
    session.scalars(
        select(Case)
        .join(Order, (Order.tenant_id == Case.tenant_id) & (Order.order_ref == Case.order_ref))
        .where(Case.tenant_id == tenant)
        .order_by(Case.opened_at)
        .limit(20)
    ).all()


def _per_round_ms(
    open_session: Callable[[], AbstractContextManager[Session]], order_id: str, statements: int
) -> float:
    started = time.perf_counter()
    with open_session() as session:
        for _ in range(statements):
            _reads(session, TENANTS[0], order_id)
    return (time.perf_counter() - started) * 1000 / statements


def run(kind: str, orders: int, rounds: int, statements: int) -> list[list[str]]:
    with scratch_database(kind) as url:
        app = bootstrap(Settings(database_url=url, demo_mode=True), clock=FixedClock(NOW))
        for tenant in TENANTS:
            ensure_tenant(app.sessions, tenant_id=tenant, name=tenant, clock=app.clock)
            ingest_items(
                app.sessions, tenant_id=tenant, items=_orders(orders), channel="b", clock=app.clock
            )
        with app.sessions() as session:
            order_id = session.scalar(
                select(Order.id).where(Order.tenant_id == TENANTS[0], Order.order_ref == "o-7")
            )
        assert order_id is not None
        modes = _modes(app, url)
        times: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(rounds):
            for name, open_session in modes.items():
                times[name].append(_per_round_ms(open_session, order_id, statements))
        app.close()
    base = statistics.median(times["baseline"])
    rows = []
    for name, measured in times.items():
        median = statistics.median(measured)
        ratio = median / base
        verdict = "" if name == "baseline" else f" ({'met' if ratio <= AIM else 'MISSED'})"
        rows.append([kind, name, f"{median:.3f}", f"{ratio:.2f}x{verdict}"])
    return rows


def _modes(app: App, url: str) -> dict[str, Callable[[], AbstractContextManager[Session]]]:
    def unbound() -> AbstractContextManager[Session]:
        return app.sessions()

    def bound(factory: sessionmaker[Session]) -> Callable[[], AbstractContextManager[Session]]:
        @contextmanager
        def open_session() -> Iterator[Session]:
            with UnitOfWork(factory, tenant_id=TENANTS[0], write=False) as uow:
                yield uow.session

        return open_session

    modes = {"baseline": unbound, "guard": bound(app.sessions)}
    if app.engine.dialect.name == "postgresql":
        engine = make_engine(url)

        @event.listens_for(engine, "connect")
        def _as_app_role(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f'SET ROLE "{DEFAULT_APP_ROLE}"')

        modes["guard + RLS"] = bound(make_session_factory(engine))
    return modes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for a smoke check")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    orders, rounds, statements = (200, 5, 100) if args.quick else (2000, 15, 300)
    table = Table("database", "mode", "ms per 3 reads", f"ratio (aim <= {AIM}x)")
    for kind in args.db or ["sqlite", "postgres"]:
        for row in run("postgresql" if kind == "postgres" else kind, orders, rounds, statements):
            table.add_row(*row)
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
