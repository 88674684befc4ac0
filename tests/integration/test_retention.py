"""Retention moves old processed events out of the hot tables, and never an unprocessed one.

Each scenario stores events at T0, lets a season pass (the clock moves on), stores fresh
events from the same sources (a source that talks keeps only its last week of lookback
hot) and runs retention.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from builders.database_roles import owner_sessions
from builders.events import order_placed, payment
from builders.webhooks import post, stripe_event, webhook_client
from orderops.bootstrap import App
from orderops.commands.retention import register
from orderops.domain.clock import FixedClock
from orderops.domain.errors import InvalidEvent
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.repositories.inbox_bulk import PendingRow, insert_pending
from orderops.storage.tables import (
    AuditRecord,
    DeadLetter,
    EntityAlias,
    InboxArchive,
    InboxEvent,
    WebhookDelivery,
    WebhookDeliveryArchive,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow import pipeline
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import MAX_ATTEMPTS, process_pending
from orderops.workflow.replay import replay_dead_letter
from orderops.workflow.retention import (
    RETENTION_INTERVAL,
    retention_due,
    run_retention,
    set_retention_window,
)

SEASON = timedelta(days=100)
"""Longer than the default 90-day window."""
SECRET = "acme-signing-secret-1-0123456789abcdef"


# --- helpers ---------------------------------------------------------------------------------


def store(app: App, clock: FixedClock, events: list[dict[str, Any]], tenant: str = "acme") -> None:
    """Accept ``events`` now and process them."""
    ingest_items(app.sessions, tenant_id=tenant, items=events, channel="test", clock=clock)
    process_pending(app.sessions, tenant_id=tenant, clock=clock)


def old_order(order_ref: str, clock: FixedClock) -> list[dict[str, Any]]:
    at = clock.now() - timedelta(hours=1)
    return [
        order_placed(order_ref, at=at, event_id=f"{order_ref}-placed"),
        payment(
            order_ref,
            status="captured",
            at=at + timedelta(minutes=5),
            payment_ref=f"pi_{order_ref}",
            event_id=f"{order_ref}-paid",
        ),
    ]


def a_season_later(app: App, clock: FixedClock, tenant: str = "acme", days: int = 100) -> None:
    """Time passes and both test sources keep talking."""
    clock.advance(timedelta(days=days))
    store(app, clock, old_order(f"fresh-{days}-{tenant}", clock), tenant=tenant)


def hot_ids(app: App, tenant: str = "acme") -> set[str]:
    return _event_ids(app, InboxEvent, tenant)


def archived_ids(app: App, tenant: str = "acme") -> set[str]:
    return _event_ids(app, InboxArchive, tenant)


def _event_ids(app: App, table: Any, tenant: str) -> set[str]:
    with owner_sessions(app)() as session:
        return set(session.scalars(select(table.event_id).where(table.tenant_id == tenant)))


def inbox_row(app: App, event_id: str) -> InboxEvent:
    with owner_sessions(app)() as session:
        row = session.scalar(select(InboxEvent).where(InboxEvent.event_id == event_id))
        assert row is not None, f"{event_id} is not in the hot inbox"
        session.expunge(row)
        return row


def set_status(app: App, event_id: str, status: str) -> None:
    with owner_sessions(app)() as session:
        session.execute(
            update(InboxEvent).where(InboxEvent.event_id == event_id).values(status=status)
        )
        session.commit()


def count(app: App, table: Any, tenant: str = "acme") -> int:
    with owner_sessions(app)() as session:
        found = session.scalar(
            select(func.count()).select_from(table).where(table.tenant_id == tenant)
        )
        return int(found or 0)


# --- what moves ------------------------------------------------------------------------------


def test_processed_rows_past_the_window_leave_the_hot_table_and_stay_readable(
    app: App, clock: FixedClock
) -> None:
    store(app, clock, old_order("o-1", clock))
    placed = inbox_row(app, "o-1-placed")
    a_season_later(app, clock)

    report = run_retention(app.sessions, tenant_id="acme", clock=clock)

    assert (report.inbox_moved, report.window_days) == (2, 90)
    assert archived_ids(app) == {"o-1-placed", "o-1-paid"}
    assert hot_ids(app) == {"fresh-100-acme-placed", "fresh-100-acme-paid"}
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.inbox.get(placed.id) is None
        archived = uow.inbox.get_any(placed.id)
        assert isinstance(archived, InboxArchive)
        assert archived.envelope == placed.envelope
        assert (archived.status, archived.processed_at) == ("processed", placed.processed_at)
        assert archived.archived_at == clock.now()
        alias = uow.session.scalar(
            select(EntityAlias).where(
                EntityAlias.entity_type == "order", EntityAlias.entity_ref == "o-1"
            )
        )
        assert alias is not None
        assert alias.inbox_id == placed.id, "records keep the id of an event that moved"
        named = uow.inbox.get_any(alias.inbox_id)
        assert named is not None
        assert named.event_id == "o-1-placed"
        assert uow.commerce.order_by_ref("o-1") is not None, "projected state is not touched"


def test_rows_processed_within_the_window_stay(app: App, clock: FixedClock) -> None:
    store(app, clock, old_order("o-1", clock))
    a_season_later(app, clock, days=89)

    report = run_retention(app.sessions, tenant_id="acme", clock=clock)

    assert report.inbox_moved == 0
    assert archived_ids(app) == set()
    assert {"o-1-placed", "o-1-paid"} <= hot_ids(app)


@pytest.mark.parametrize("status", ["pending", "deferred", "failed"])
def test_an_unprocessed_row_never_moves_however_old(
    app: App, clock: FixedClock, status: str
) -> None:
    store(app, clock, old_order("o-1", clock))
    a_season_later(app, clock, days=400)
    set_status(app, "o-1-paid", status)

    report = run_retention(app.sessions, tenant_id="acme", clock=clock)

    assert report.inbox_moved == 1
    assert archived_ids(app) == {"o-1-placed"}
    assert inbox_row(app, "o-1-paid").status == status
    assert report.inbox_kept_past_window == 1
    assert report.oldest_inbox_kept == inbox_row(app, "o-1-paid").received_at


def test_a_quiet_source_keeps_its_last_lookback_hot_for_the_silence_detector(
    app: App, clock: FixedClock
) -> None:
    """The shop stops talking; what the silence detector reads of it must not thin out."""
    store(app, clock, [order_placed("o-1", at=clock.now() - timedelta(days=30), event_id="a")])
    store(app, clock, [order_placed("o-2", at=clock.now() - timedelta(days=3), event_id="b")])
    store(app, clock, [order_placed("o-3", at=clock.now(), event_id="c")])
    clock.advance(SEASON)

    run_retention(app.sessions, tenant_id="acme", clock=clock)

    assert archived_ids(app) == {"a"}, "older than the source's last 7 days of events"
    assert hot_ids(app) == {"b", "c"}


def test_a_second_run_moves_nothing_more(app: App, clock: FixedClock) -> None:
    store(app, clock, old_order("o-1", clock))
    a_season_later(app, clock)
    first = run_retention(app.sessions, tenant_id="acme", clock=clock, batch=1)

    second = run_retention(app.sessions, tenant_id="acme", clock=clock)

    assert (first.inbox_moved, second.inbox_moved) == (2, 0)
    assert second.deliveries_moved == 0
    assert count(app, InboxArchive) == 2


def test_each_tenant_keeps_its_own_window(app: App, clock: FixedClock) -> None:
    set_retention_window(app.sessions, tenant_id="globex", days=30, actor="test", clock=clock)
    store(app, clock, old_order("o-1", clock), tenant="acme")
    store(app, clock, old_order("o-1", clock), tenant="globex")
    a_season_later(app, clock, tenant="acme", days=60)
    store(app, clock, old_order("fresh-globex", clock), tenant="globex")

    acme = run_retention(app.sessions, tenant_id="acme", clock=clock)
    globex = run_retention(app.sessions, tenant_id="globex", clock=clock)

    assert (acme.window_days, acme.inbox_moved) == (90, 0)
    assert (globex.window_days, globex.inbox_moved) == (30, 2)
    assert archived_ids(app, "globex") == {"o-1-placed", "o-1-paid"}
    assert archived_ids(app, "acme") == set()
    assert {"o-1-placed", "o-1-paid"} <= hot_ids(app, "acme")


def test_a_dry_run_counts_what_a_run_moves_and_changes_nothing(app: App, clock: FixedClock) -> None:
    store(app, clock, old_order("o-1", clock))
    store(app, clock, old_order("o-2", clock))
    a_season_later(app, clock)
    set_status(app, "o-2-paid", "deferred")
    before = hot_ids(app)

    dry = run_retention(app.sessions, tenant_id="acme", clock=clock, dry_run=True)

    assert hot_ids(app) == before
    assert count(app, InboxArchive) == 0
    real = run_retention(app.sessions, tenant_id="acme", clock=clock)
    assert (dry.inbox_moved, dry.inbox_kept_past_window) == (3, 1)
    assert (real.inbox_moved, real.inbox_kept_past_window) == (3, 1)
    assert dry.oldest_inbox_kept == real.oldest_inbox_kept


# --- what still needs the hot row ------------------------------------------------------------


def test_a_dead_letters_inbox_row_stays_hot_and_replayable(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pipeline.project

    def broken(repo: Any, event: Any, **kw: Any) -> Any:
        if event.envelope.id == "o-1-paid":
            raise RuntimeError("bug in a projector")
        return real(repo, event, **kw)

    monkeypatch.setattr(pipeline, "project", broken)
    store(app, clock, old_order("o-1", clock))
    for _ in range(MAX_ATTEMPTS - 1):
        process_pending(app.sessions, tenant_id="acme", clock=clock)
    assert inbox_row(app, "o-1-paid").status == "failed"
    monkeypatch.setattr(pipeline, "project", real)
    a_season_later(app, clock)

    run_retention(app.sessions, tenant_id="acme", clock=clock)
    with owner_sessions(app)() as session:
        (letter_id,) = session.scalars(select(DeadLetter.id).where(DeadLetter.status == "open"))
    replayed = replay_dead_letter(app.sessions, tenant_id="acme", letter_id=letter_id, clock=clock)
    a_season_later(app, clock, days=101)
    run_retention(app.sessions, tenant_id="acme", clock=clock)

    assert replayed.ok, replayed.message
    assert inbox_row(app, "o-1-paid").status == "processed"
    assert "o-1-paid" not in archived_ids(app), "a dead letter names it: it stays hot"
    assert "o-1-placed" in archived_ids(app)


# --- webhook deliveries ----------------------------------------------------------------------


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with webhook_client(app) as test_client:
        yield test_client


def deliver_payment(client: TestClient, app: App, clock: FixedClock, token: str, ref: str) -> str:
    """A Stripe payment for a stored order, accepted and processed; its delivery row id."""
    store(app, clock, [order_placed(ref, at=clock.now() - timedelta(hours=1), event_id=ref)])
    delivery = stripe_event("payment_intent.succeeded", created=clock.now(), order_ref=ref)
    response = post(client, delivery, token=token, secret=SECRET, now=clock.now())
    assert response.status_code < 300, response.text
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    delivery_id: str = response.json()["delivery"]
    return delivery_id


def delivery_ids(app: App, table: Any) -> set[str]:
    with owner_sessions(app)() as session:
        return set(session.scalars(select(table.id).where(table.tenant_id == "acme")))


def test_a_delivery_moves_once_every_event_that_came_from_it_moved(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect_source(
        app.sessions,
        tenant_id="acme",
        source=WebhookSource.STRIPE,
        box=SecretBox(app.settings.secret_key),
        clock=clock,
        actor="test",
        secret=SECRET,
    ).connection.endpoint_token
    moving = deliver_payment(client, app, clock, token, "o-1")
    clock.advance(timedelta(minutes=1))
    held = deliver_payment(client, app, clock, token, "o-2")
    with owner_sessions(app)() as session:
        held_events = session.scalars(
            select(InboxEvent.event_id).where(InboxEvent.received_at == clock.now())
        ).all()
    clock.advance(SEASON)
    fresh = deliver_payment(client, app, clock, token, "o-3")
    for event_id in held_events:
        set_status(app, event_id, "pending")

    dry = run_retention(app.sessions, tenant_id="acme", clock=clock, dry_run=True)
    report = run_retention(app.sessions, tenant_id="acme", clock=clock)

    assert (dry.deliveries_moved, report.deliveries_moved) == (1, 1)
    assert delivery_ids(app, WebhookDeliveryArchive) == {moving}
    assert delivery_ids(app, WebhookDelivery) == {held, fresh}
    assert report.oldest_delivery_kept is not None
    with owner_sessions(app)() as session:
        archived = session.get(WebhookDeliveryArchive, ("acme", moving))
        assert archived is not None
        assert (archived.status, archived.archived_at) == ("accepted", clock.now())
        assert '"payment_intent.succeeded"' in archived.body


def test_a_delivery_still_in_flight_never_moves(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect_source(
        app.sessions,
        tenant_id="acme",
        source=WebhookSource.STRIPE,
        box=SecretBox(app.settings.secret_key),
        clock=clock,
        actor="test",
        secret=SECRET,
    ).connection.endpoint_token
    crashed = deliver_payment(client, app, clock, token, "o-1")
    with owner_sessions(app)() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == crashed)
            .values(status="received", completed_at=None)
        )
        session.commit()
    clock.advance(SEASON)
    deliver_payment(client, app, clock, token, "o-2")

    report = run_retention(app.sessions, tenant_id="acme", clock=clock)

    assert report.inbox_moved >= 1, "its events moved: only the delivery's state holds it"
    assert report.deliveries_moved == 0
    assert crashed in delivery_ids(app, WebhookDelivery)


# --- the window, the worker's pace and the CLI ------------------------------------------------


def test_a_window_below_a_week_is_refused_and_a_change_is_audited(
    app: App, clock: FixedClock
) -> None:
    with pytest.raises(InvalidEvent, match="7 to"):
        set_retention_window(app.sessions, tenant_id="acme", days=6, actor="test", clock=clock)

    previous = set_retention_window(
        app.sessions, tenant_id="acme", days=30, actor="ops", clock=clock
    )

    assert previous == 90
    with owner_sessions(app)() as session:
        record = session.scalar(
            select(AuditRecord).where(AuditRecord.action == "tenant.retention_window_set")
        )
    assert record is not None
    assert (record.actor, record.data) == ("ops", {"days": 30, "previous_days": 90})


def test_a_worker_runs_retention_at_most_once_an_hour(clock: FixedClock) -> None:
    now = clock.now()

    assert retention_due(None, now=now)
    assert not retention_due(now - RETENTION_INTERVAL + timedelta(seconds=1), now=now)
    assert retention_due(now - RETENTION_INTERVAL, now=now)


def test_the_cli_shows_sets_and_runs_retention(app: App, clock: FixedClock) -> None:
    cli = typer.Typer()

    @cli.callback()
    def _root() -> None:
        """Test root (a callback keeps `retention` a named group)."""

    register(cli, app_factory=lambda: app)
    runner = CliRunner()
    store(app, clock, old_order("o-1", clock))
    a_season_later(app, clock)

    window = runner.invoke(cli, ["retention", "window", "-t", "acme", "--days", "60"])
    status = runner.invoke(cli, ["retention", "status", "-t", "acme"])
    dry = runner.invoke(cli, ["retention", "run", "-t", "acme", "--dry-run"])
    unchanged = hot_ids(app)
    run = runner.invoke(cli, ["retention", "run"])

    assert window.exit_code == 0, window.output
    assert "acme: 60 days (was 90)" in window.output
    assert status.exit_code == 0, status.output
    assert "would move" in status.output
    assert "acme" in status.output
    assert dry.exit_code == 0, dry.output
    assert len(unchanged) == 4
    assert run.exit_code == 0, run.output
    assert "globex" in run.output, "without --tenant every tenant is run"
    assert archived_ids(app) == {"o-1-placed", "o-1-paid"}


# --- the archive's shape ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hot", "archive"),
    [(InboxEvent, InboxArchive), (WebhookDelivery, WebhookDeliveryArchive)],
    ids=["inbox", "webhook_deliveries"],
)
def test_the_archive_keeps_every_column_of_its_hot_table(hot: Any, archive: Any) -> None:
    def shape(table: Any) -> dict[str, tuple[str, bool]]:
        return {c.name: (repr(c.type), c.nullable) for c in table.__table__.columns}

    archived = shape(archive)
    assert archived.pop("archived_at") == (repr(archive.archived_at.type), False)
    assert archived == shape(hot)
    assert [c.name for c in archive.__table__.primary_key.columns] == ["tenant_id", "id"]


def test_an_archived_event_delivered_again_is_a_duplicate(app: App, clock: FixedClock) -> None:
    events = old_order("o-1", clock)
    store(app, clock, events)
    a_season_later(app, clock)
    run_retention(app.sessions, tenant_id="acme", clock=clock)

    again = ingest_items(app.sessions, tenant_id="acme", items=events, channel="test", clock=clock)

    assert (again.accepted, again.duplicates) == (0, 2)
    assert "o-1-placed" not in hot_ids(app)


def test_an_archived_event_imported_again_in_bulk_is_a_duplicate(
    app: App, clock: FixedClock
) -> None:
    events = old_order("o-1", clock)
    store(app, clock, events)
    a_season_later(app, clock)
    run_retention(app.sessions, tenant_id="acme", clock=clock)
    fresh = order_placed("o-2", at=clock.now() - timedelta(hours=1), event_id="o-2-placed")
    rows = [
        PendingRow(
            source=e["source"],
            event_id=e["id"],
            type=e["type"],
            subject=e.get("subject"),
            event_time=datetime.fromisoformat(e["time"]),
            received_at=clock.now(),
            envelope=e,
        )
        for e in [*events, fresh]
    ]

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        inserted = insert_pending(uow.session, "acme", rows)
        uow.commit()

    assert inserted == {(fresh["source"], "o-2-placed")}
    assert "o-1-placed" not in hot_ids(app)
