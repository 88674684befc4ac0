"""A worker in another process starts on an event when its accept commits, not at its
next poll: the inbox trigger NOTIFYs (PostgreSQL), the worker LISTENs."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from builders.database_roles import owner_sessions
from builders.events import order_placed
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest import intake
from orderops.ingest.intake import accept_items
from orderops.storage.tables import InboxEvent
from orderops.workflow.inbox_wakeups import CHANNEL, start_listening
from orderops.workflow.worker import run_forever

POLL = 30.0
"""Far longer than any wait below: only a notification can explain a prompt start."""


def accept(app: App, clock: FixedClock, order_ref: str) -> dict[str, Any]:
    item = order_placed(order_ref, at=clock.now())
    return accept_again(app, clock, item)


def accept_again(app: App, clock: FixedClock, item: dict[str, Any]) -> dict[str, Any]:
    accept_items(app.sessions, tenant_id="acme", items=[item], channel="test", clock=clock)
    return item


def status_of(app: App, order_ref: str) -> str | None:
    with owner_sessions(app)() as session:
        return session.scalar(
            select(InboxEvent.status).where(
                InboxEvent.tenant_id == "acme", InboxEvent.subject == order_ref
            )
        )


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def owner_database_url(postgres_owner_url: str) -> str:
    """LISTEN/NOTIFY is PostgreSQL's: every test here runs there only."""
    return postgres_owner_url


@pytest.fixture
def accepts_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepts no longer signal this process, as when another process accepts."""
    monkeypatch.setattr(intake, "arrivals", types.SimpleNamespace(announce=lambda: None))


@pytest.fixture
def listener(app: App) -> Iterator[Any]:
    raw = app.engine.raw_connection()
    connection = raw.driver_connection
    raw.detach()
    connection.autocommit = True
    connection.execute(f"LISTEN {CHANNEL}")
    yield connection
    raw.close()


def notifications(connection: Any, wait: float = 0.5) -> int:
    return sum(1 for _ in connection.notifies(timeout=wait))


@pytest.mark.usefixtures("accepts_elsewhere")
def test_a_worker_elsewhere_processes_an_event_at_commit_not_at_its_poll(
    app: App, clock: FixedClock
) -> None:
    stop = threading.Event()
    worker = threading.Thread(
        target=run_forever, kwargs={"app": app, "stop": stop, "interval": 3600.0, "poll": POLL}
    )
    worker.start()
    try:
        time.sleep(1.0)  # the worker's first drain and its LISTEN are behind it
        started = time.monotonic()
        accept(app, clock, "W-1")
        while status_of(app, "W-1") == "pending" and time.monotonic() - started < POLL / 3:
            time.sleep(0.05)
        assert status_of(app, "W-1") == "processed"
    finally:
        stop.set()
        worker.join()


def test_the_trigger_notifies_once_per_storing_commit_and_not_for_duplicates(
    app: App, clock: FixedClock, listener: Any
) -> None:
    item = accept(app, clock, "N-1")
    assert notifications(listener) == 1

    accept_again(app, clock, item)  # the same event redelivered: the inbox stores nothing

    assert notifications(listener) == 0


def test_a_rolled_back_store_wakes_no_one(app: App, clock: FixedClock, listener: Any) -> None:
    with owner_sessions(app)() as session:
        session.execute(
            InboxEvent.__table__.insert(),
            {
                "id": "rolled-back",
                "tenant_id": "acme",
                "source": "test",
                "event_id": "evt-rolled-back",
                "type": "order.placed",
                "subject": "R-1",
                "event_time": clock.now(),
                "received_at": clock.now(),
                "envelope": {},
                "status": "pending",
                "attempts": 0,
            },
        )
        session.rollback()

    assert notifications(listener) == 0


def test_sqlite_has_no_listener_and_the_poll_alone_finds_rows(tmp_path: Any) -> None:
    from sqlalchemy import create_engine

    engine: Engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        assert start_listening(engine, threading.Event()) is None
    finally:
        engine.dispose()
