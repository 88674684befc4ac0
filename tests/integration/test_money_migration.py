"""Migration 0012_bigint_money_and_bounds widens money and text in place, losing no row, and
turns the inbox rows processing had given up on into dead letters to replay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, inspect, select, text, update

from builders.database_roles import owner_engine, owner_sessions
from builders.events import order_placed, payment, scan, shipment
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.base import Base
from orderops.storage.migrate import downgrade, upgrade
from orderops.storage.tables import InboxEvent
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep

REVISION = "0012_bigint_money_and_bounds"
KEPT = (
    "orders",
    "order_lines",
    "payments",
    "shipments",
    "tracking_events",
    "customers",
    "customer_identities",
    "cases",
    "case_timeline",
    "inbox",
)


def _counts(app: App) -> dict[str, int]:
    with owner_engine(app).connect() as connection:
        return {
            name: int(
                connection.scalar(select(func.count()).select_from(Base.metadata.tables[name])) or 0
            )
            for name in KEPT
        }


def _column_type(app: App, table: str, column: str) -> str:
    columns = inspect(owner_engine(app)).get_columns(table)
    return str(next(c["type"] for c in columns if c["name"] == column)).upper()


def test_down_and_up_again_keeps_every_row_and_dead_letters_the_failed_ones(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - timedelta(days=2)
    events = [
        order_placed("o-1", at=at),
        payment("o-1", status="failed", at=at + timedelta(minutes=1), failure_code="card_declined"),
        shipment("o-1", at=at + timedelta(hours=1)),
        scan("in_transit", at=at + timedelta(hours=2)),
        order_placed("o-2", at=at, event_id="stuck"),
    ]
    ingest_items(app.sessions, tenant_id="acme", items=events, channel="test", clock=clock)
    sweep(app.sessions, tenant_id="acme", clock=clock)  # opens the cases whose timelines move
    with owner_sessions(app).begin() as session:
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.event_id == "stuck")
            .values(
                status="failed",
                attempts=3,
                error="DataError('(psycopg.errors.NumericValueOutOfRange) integer out of range')",
            )
        )
    before = _counts(app)
    assert min(before[t] for t in ("order_lines", "case_timeline", "tracking_events")) > 0

    downgrade(owner_engine(app), f"{REVISION}-1")  # this branch only
    assert _counts(app) == before
    assert _column_type(app, "orders", "total_minor") == "INTEGER"
    assert _column_type(app, "orders", "service_level") == "VARCHAR(64)"

    upgrade(owner_engine(app))
    assert _counts(app) == before
    assert _column_type(app, "orders", "total_minor") == "BIGINT"
    assert _column_type(app, "orders", "service_level") == "TEXT"
    with owner_engine(app).connect() as connection:
        letters = connection.execute(
            text(
                "SELECT d.reason_code, d.status, d.channel, i.event_id FROM dead_letters d "
                "JOIN inbox i ON i.id = d.inbox_id"
            )
        ).all()
    assert [tuple(letter) for letter in letters] == [
        ("value_out_of_range", "open", "processing", "stuck")
    ]
