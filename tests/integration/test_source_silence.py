"""A source's habit is read hour by hour from the inbox, in UTC whatever the database
session's time zone (the silence rule itself: tests/unit/test_detectors_catalogue.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from builders.events import order_placed
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import source_activity

DAY0 = datetime(2026, 11, 2, tzinfo=UTC)


def test_the_habit_is_counted_per_utc_hour_in_any_session_time_zone(
    app: App, clock: FixedClock
) -> None:
    times = [DAY0 + timedelta(days=d, hours=h) for d in range(3) for h in (9, 9.5, 14)]
    items = [order_placed(f"o-{i}", at=at, source="test://desk") for i, at in enumerate(times)]
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="t", clock=clock)
    assert report.rejected == []
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        if uow.session.get_bind().dialect.name == "postgresql":
            uow.session.execute(text("SET TIME ZONE 'America/New_York'"))
        (desk,) = source_activity(uow, lookback=timedelta(days=7))

    assert desk.source == "test://desk"
    assert desk.events_in_lookback == 9
    assert desk.by_hour is not None
    assert {h: n for h, n in enumerate(desk.by_hour) if n} == {9: 6, 14: 3}
