"""An event that cannot be processed ends as a counted dead letter an operator can replay;
a transient database error costs the event nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg.errors
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from builders.events import order_placed, payment
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.cli import cli
from orderops.domain.clock import FixedClock
from orderops.storage.tables import DeadLetter, InboxEvent
from orderops.storage.uow import UnitOfWork
from orderops.workflow import pipeline
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import MAX_ATTEMPTS, process_pending

DEAD_LETTERED = "orderops_processing_dead_letters_total"
TRANSIENT = "orderops_processing_transient_errors_total"


def _scrape(app: App) -> dict[tuple[str, str], float]:
    """(sample name, reason label) -> value, from GET /metrics as a scraper sees it."""
    with TestClient(create_app(app)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, sample.labels.get("reason", "")): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _row(app: App, event_id: str) -> InboxEvent:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = uow.session.scalar(select(InboxEvent).where(InboxEvent.event_id == event_id))
        assert row is not None
        uow.session.expunge(row)
        return row


def _processing_letters(app: App) -> list[DeadLetter]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        letters = list(
            uow.session.scalars(select(DeadLetter).where(DeadLetter.channel == "processing"))
        )
        uow.session.expunge_all()
        return letters


def _poison(monkeypatch: pytest.MonkeyPatch, event_id: str, error: Callable[[], Exception]) -> Any:
    real = pipeline.project

    def project(repo: Any, event: Any, **kw: Any) -> Any:
        if event.envelope.id == event_id:
            raise error()
        return real(repo, event, **kw)

    monkeypatch.setattr(pipeline, "project", project)
    return real


def test_an_event_that_keeps_failing_becomes_one_counted_dead_letter_and_replays_once_fixed(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _scrape(app).get((DEAD_LETTERED, "processing_error"), 0.0)
    at = clock.now() - timedelta(days=1)
    real = _poison(monkeypatch, "poison", lambda: RuntimeError("bug in a projector"))
    events = [
        order_placed("o-1", at=at),
        payment("o-1", status="captured", at=at + timedelta(minutes=1), event_id="poison"),
    ]
    ingest_items(app.sessions, tenant_id="acme", items=events, channel="test", clock=clock)
    assert _processing_letters(app) == [], "one failure is retried, not dead-lettered"

    for _ in range(MAX_ATTEMPTS - 1):
        process_pending(app.sessions, tenant_id="acme", clock=clock)

    row = _row(app, "poison")
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    (letter,) = _processing_letters(app)
    assert letter.status == "open"
    assert letter.reason_code == "processing_error"
    assert "bug in a projector" in letter.reason
    assert letter.inbox_id == row.id
    assert '"id":"poison"' in letter.body.replace(" ", "")
    assert _scrape(app)[(DEAD_LETTERED, "processing_error")] == before + 1

    runner = CliRunner()
    monkeypatch.setenv("ORDEROPS_DATABASE_URL", app.settings.resolved_database_url)
    monkeypatch.setenv("ORDEROPS_DEMO_MODE", "true")  # replay signs: the app's placeholder key
    listing = runner.invoke(cli, ["deadletters", "list", "--tenant", "acme"])
    assert letter.id in listing.output

    still_broken = runner.invoke(cli, ["deadletters", "replay", "--tenant", "acme", letter.id])
    assert still_broken.exit_code == 1, still_broken.output
    assert "left open" in still_broken.output
    assert _row(app, "poison").status == "failed"
    (again,) = _processing_letters(app)
    assert again.status == "open", "a failed replay keeps the one letter open"

    monkeypatch.setattr(pipeline, "project", real)
    fixed = runner.invoke(cli, ["deadletters", "replay", "--tenant", "acme", letter.id])
    assert fixed.exit_code == 0, fixed.output
    assert _row(app, "poison").status == "processed"
    (replayed,) = _processing_letters(app)
    assert replayed.status == "replayed"
    assert replayed.replay_inbox_id == row.id
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        charge = uow.commerce.payment("stripe", "pi_1")
        assert charge is not None
        assert charge.status == "captured"
        order = uow.commerce.order_by_ref("o-1")
        assert order is not None
        assert order.financial_status == "paid"

    twice = runner.invoke(cli, ["deadletters", "replay", "--tenant", "acme", letter.id])
    assert twice.exit_code != 0, "a replayed letter is not replayed a second time"
    assert _row(app, "poison").attempts == row.attempts + 2


def _deadlock() -> Exception:
    return OperationalError(
        "UPDATE orders SET ...", None, psycopg.errors.DeadlockDetected("deadlock detected")
    )


def _serialization_failure() -> Exception:
    return OperationalError(
        "COMMIT", None, psycopg.errors.SerializationFailure("could not serialize access")
    )


def _sqlite_locked() -> Exception:
    return OperationalError("INSERT ...", None, sqlite3.OperationalError("database is locked"))


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (_deadlock, "deadlock"),
        (_serialization_failure, "serialization_failure"),
        (_sqlite_locked, "database_locked"),
    ],
)
def test_a_transient_database_error_is_retried_without_spending_an_attempt(
    app: App,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    error: Callable[[], Exception],
    reason: str,
) -> None:
    before = _scrape(app).get((TRANSIENT, reason), 0.0)
    failures = iter([error()])
    real = pipeline.project

    def project(repo: Any, event: Any, **kw: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(repo, event, **kw)

    monkeypatch.setattr(pipeline, "project", project)
    events = [order_placed("o-1", at=clock.now() - timedelta(hours=1), event_id="order")]

    ingest_items(app.sessions, tenant_id="acme", items=events, channel="test", clock=clock)

    row = _row(app, "order")
    assert (row.status, row.attempts, row.error) == ("processed", 1, None)
    assert _processing_letters(app) == []
    assert _scrape(app)[(TRANSIENT, reason)] == before + 1


def test_a_database_that_stays_locked_leaves_the_event_pending_with_its_attempts_intact(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "TRANSIENT_BACKOFF_SECONDS", 0.0)
    real = _poison(monkeypatch, "order", _deadlock)
    events = [order_placed("o-1", at=clock.now() - timedelta(hours=1), event_id="order")]

    ingest_items(app.sessions, tenant_id="acme", items=events, channel="test", clock=clock)

    row = _row(app, "order")
    assert (row.status, row.attempts) == ("pending", 0)
    assert _processing_letters(app) == []

    monkeypatch.setattr(pipeline, "project", real)
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    assert _row(app, "order").status == "processed"
