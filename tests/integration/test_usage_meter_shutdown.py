"""The API call meter's flushing thread ends with its app, and a database that is gone is
reported once, not every interval.

The thread writes every ``ORDEROPS_USAGE_API_FLUSH_SECONDS``; here that is a few
hundredths of a second, so a loop that logs every interval would log dozens of times
while the test waits.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from builders.access import person
from builders.database_roles import owner_sessions
from orderops.api.app import create_app
from orderops.api.usage_meter import ApiCallMeter
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import UsageCounter

INTERVAL = 0.02
LOGGER = "orderops.api.usage_meter"


def until(condition: Callable[[], bool], *, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(INTERVAL / 2)
    return condition()


def gone_database(tmp_path: Path) -> sessionmaker:  # type: ignore[type-arg]
    """Sessions on a SQLite file in a folder that does not exist: every connect fails."""
    return sessionmaker(create_engine(f"sqlite:///{tmp_path / 'removed' / 'orderops.db'}"))


def api_calls(app: App) -> int:
    with owner_sessions(app)() as session:
        return int(
            session.scalar(
                select(func.coalesce(func.sum(UsageCounter.quantity), 0)).where(
                    UsageCounter.tenant_id == "acme", UsageCounter.meter == "api_calls"
                )
            )
            or 0
        )


def test_a_database_that_is_gone_is_logged_once_and_the_counts_are_kept(
    tmp_path: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    meter = ApiCallMeter(gone_database(tmp_path), clock, interval=INTERVAL)
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    meter.record("acme", "cases")
    meter.record("acme", "cases")
    assert until(lambda: any(r.levelno >= logging.ERROR for r in caplog.records))
    time.sleep(INTERVAL * 15)  # a dozen more failing flushes

    loud = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    quiet = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.DEBUG]
    assert len(loud) == 1, [r.getMessage() for r in loud]
    assert "said once" in loud[0].getMessage()
    assert loud[0].exc_info is not None  # the cause, once
    assert len(quiet) >= 5  # it did go on trying
    assert meter.flushing
    assert sum(sum(c.values()) for c in meter.pending().values()) == 2

    meter.close()

    assert not meter.flushing
    lost = [r.getMessage() for r in caplog.records if "lost" in r.getMessage()]
    assert lost == ["usage: 2 API call(s) of acme could not be counted before shutdown; lost"]
    tries = len(caplog.records)
    time.sleep(INTERVAL * 10)
    assert len(caplog.records) == tries  # nothing runs after close
    meter.record("acme", "cases")
    assert not meter.flushing  # a closed meter starts no thread


def test_closing_the_app_stops_the_thread_after_adding_what_it_counted(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDEROPS_USAGE_API_FLUSH_SECONDS", "30")  # no flush but the last
    caller = person(app, clock, tenant="acme", role=Role.AGENT)
    http = TestClient(create_app(app))  # no lifespan: only the app's close can flush
    meter: ApiCallMeter = http.app.state.usage_meter  # type: ignore[attr-defined]

    answers = [http.get("/v1/cases", headers=caller.headers).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert meter.flushing
    assert api_calls(app) == 0

    app.close()

    assert not meter.flushing
    assert api_calls(app) == 3  # the last flush, before the engine went


def test_a_write_that_works_again_is_said_once_and_the_kept_counts_are_added(
    app: App, clock: FixedClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    meter = ApiCallMeter(gone_database(tmp_path), clock, interval=3600)
    caplog.set_level(logging.WARNING, logger=LOGGER)
    meter.record("acme", "cases")

    assert [meter.flush(), meter.flush()] == [0, 0]
    meter._sessions = app.sessions  # the database is back
    written = meter.flush()
    meter.close()

    assert written == 1
    assert api_calls(app) == 1
    assert [r.levelname for r in caplog.records if r.name == LOGGER] == ["ERROR", "WARNING"]
    assert "written again" in caplog.records[-1].getMessage()
