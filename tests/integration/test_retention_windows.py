"""Content windows: what outlives the hot tables is kept for a tenant's window and then
removed, never anything still in flight or open, and the audit chain verifies after.

Each test writes rows at chosen ages (the clock stays put) and enforces the windows once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import typer
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from builders.database_roles import owner_sessions
from builders.erasure import values_of
from builders.events import order_placed
from builders.writeback import make_case
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.commands.retention import register
from orderops.domain.clock import FixedClock
from orderops.domain.errors import InvalidEvent, NotFound
from orderops.evidence.service import EvidenceKind, default_store, store_evidence
from orderops.storage.tables import (
    AuditRecord,
    CaseTimelineEntry,
    Communication,
    EvidenceBlob,
    InboxArchive,
    InboxEvent,
    WebhookDelivery,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import process_pending
from orderops.workflow.retention import run_retention
from orderops.workflow.retention_windows import (
    DEFAULTS,
    EXPIRED_TEXT,
    expire_content,
    set_windows,
    windows_of,
)

DAY = timedelta(days=1)


def expire(app: App, clock: FixedClock, **kw: Any) -> Any:
    return expire_content(
        app.sessions, tenant_id="acme", clock=clock, evidence=default_store(app.settings), **kw
    )


def add(app: App, *rows: Any) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.add_all(rows)
        uow.commit()


def delivery(clock: FixedClock, key: str, *, age_days: int, status: str) -> WebhookDelivery:
    at = clock.now() - age_days * DAY
    return WebhookDelivery(
        tenant_id="acme",
        source="shopify",
        delivery_id=key,
        body_sha256=key.ljust(64, "0"),
        received_at=at,
        headers={"x-shopify-topic": "orders/create"},
        body='{"email": "someone@example.com"}',
        body_bytes=33,
        status=status,
        completed_at=at if status != "received" else None,
    )


def message(clock: FixedClock, case_id: str, *, age_days: int, status: str) -> Communication:
    at = clock.now() - age_days * DAY
    return Communication(
        tenant_id="acme",
        case_id=case_id,
        channel="email",
        recipient="kim@example.com",
        subject="Your parcel",
        body=f"{status} {age_days} days ago",
        status=status,
        created_by="agent",
        created_at=at,
        updated_at=at,
    )


def count(app: App, table: Any) -> int:
    with owner_sessions(app)() as session:
        found = session.scalar(
            select(func.count()).select_from(table).where(table.tenant_id == "acme")
        )
        return int(found or 0)


# --- the windows ---------------------------------------------------------------------------


def test_a_tenant_without_settings_has_the_documented_defaults(app: App) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert windows_of(uow) == DEFAULTS
    assert (DEFAULTS.archive_days, DEFAULTS.raw_body_days) == (730, 180)
    assert (DEFAULTS.evidence_days, DEFAULTS.message_days) == (730, 365)


def test_setting_a_window_is_bounded_and_audited(app: App, clock: FixedClock) -> None:
    with pytest.raises(InvalidEvent, match="raw_body_days is 7 to 3660 days, not 3"):
        set_windows(
            app.sessions, tenant_id="acme", changes={"raw_body_days": 3}, actor="t", clock=clock
        )
    with pytest.raises(InvalidEvent, match="no retention window"):
        set_windows(app.sessions, tenant_id="acme", changes={"forever": 9}, actor="t", clock=clock)

    now = set_windows(
        app.sessions, tenant_id="acme", changes={"message_days": 90}, actor="admin", clock=clock
    )

    assert now.message_days == 90
    assert now.archive_days == DEFAULTS.archive_days
    (data,) = values_of(app, AuditRecord, AuditRecord.data, action="tenant.retention_windows_set")
    assert data["previous"]["message_days"] == 365
    assert data["windows"]["message_days"] == 90
    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow:
        assert windows_of(uow) == DEFAULTS, "another tenant keeps its own windows"


# --- enforcing them ------------------------------------------------------------------------


def test_archived_rows_past_the_archive_window_are_deleted_and_hot_ones_untouched(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - timedelta(hours=1)
    old = order_placed("o-1", at=at, event_id="old")
    ingest_items(app.sessions, tenant_id="acme", items=[old], channel="t", clock=clock)
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    clock.advance(100 * DAY)
    fresh = order_placed("o-3", at=clock.now(), event_id="fresh")
    ingest_items(app.sessions, tenant_id="acme", items=[fresh], channel="t", clock=clock)
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    run_retention(app.sessions, tenant_id="acme", clock=clock)
    waiting = order_placed("o-2", at=at, event_id="pending")
    ingest_items(app.sessions, tenant_id="acme", items=[waiting], channel="t", clock=clock)
    with owner_sessions(app)() as session:
        session.execute(
            update(InboxEvent).where(InboxEvent.event_id == "pending").values(status="failed")
        )
        session.commit()
    assert values_of(app, InboxArchive, InboxArchive.event_id) == ["old"]
    set_windows(
        app.sessions, tenant_id="acme", changes={"archive_days": 30}, actor="t", clock=clock
    )

    clock.advance(29 * DAY)
    kept = expire(app, clock)
    clock.advance(2 * DAY)
    gone = expire(app, clock)

    assert (kept.archived_inbox_deleted, gone.archived_inbox_deleted) == (0, 1)
    assert count(app, InboxArchive) == 0
    assert set(values_of(app, InboxEvent, InboxEvent.event_id)) == {"pending", "fresh"}
    assert values_of(app, InboxEvent, InboxEvent.status, event_id="pending") == ["failed"]


def test_old_finished_raw_bodies_are_cleared_and_in_flight_or_recent_ones_kept(
    app: App, clock: FixedClock
) -> None:
    add(
        app,
        delivery(clock, "old-done", age_days=200, status="accepted"),
        delivery(clock, "old-inflight", age_days=200, status="received"),
        delivery(clock, "recent", age_days=5, status="accepted"),
    )

    report = expire(app, clock)

    assert report.raw_bodies_cleared == 1
    bodies = dict(
        zip(
            values_of(app, WebhookDelivery, WebhookDelivery.delivery_id),
            values_of(app, WebhookDelivery, WebhookDelivery.body),
            strict=True,
        )
    )
    assert bodies["old-done"] == ""
    assert bodies["old-inflight"] != ""
    assert bodies["recent"] != ""
    sha = values_of(app, WebhookDelivery, WebhookDelivery.body_sha256, delivery_id="old-done")
    assert sha == ["old-done".ljust(64, "0")], "the hash stays for dedupe"


def test_finished_messages_past_the_window_lose_their_content_and_drafts_stay(
    app: App, clock: FixedClock
) -> None:
    case_id = make_case(app, clock, order_ref="o-1", status="resolved")
    add(
        app,
        message(clock, case_id, age_days=400, status="delivered"),
        message(clock, case_id, age_days=400, status="drafted"),
        message(clock, case_id, age_days=10, status="delivered"),
    )

    report = expire(app, clock)

    assert report.messages_cleared == 1
    bodies = sorted(values_of(app, Communication, Communication.body))
    assert bodies == sorted([EXPIRED_TEXT, "drafted 400 days ago", "delivered 10 days ago"])
    recipients = values_of(app, Communication, Communication.recipient, body=EXPIRED_TEXT)
    assert recipients == [None]


def test_old_evidence_goes_unless_an_open_case_names_it(app: App, clock: FixedClock) -> None:
    store = default_store(app.settings)
    closed = make_case(app, clock, order_ref="o-1", status="resolved")
    still_open = make_case(app, clock, order_ref="o-2", status="triaged")
    clock.advance(-800 * DAY)
    hashes = {}
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        for name, case_id in (("closed", closed), ("open", still_open)):
            info = store_evidence(
                uow,
                store,
                data=f"evidence {name}".encode(),
                media_type="text/plain",
                kind=EvidenceKind.UPLOAD,
                actor="t",
                now=clock.now(),
            )
            hashes[name] = info.sha256
            uow.session.add(
                CaseTimelineEntry(
                    tenant_id="acme",
                    case_id=case_id,
                    at=clock.now(),
                    kind="evidence_added",
                    summary=name,
                    actor="t",
                    data={"sha256": info.sha256},
                )
            )
        uow.commit()
    clock.advance(800 * DAY)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        new = store_evidence(
            uow,
            store,
            data=b"new",
            media_type="text/plain",
            kind="upload",
            actor="t",
            now=clock.now(),
        )
        uow.commit()

    report = expire(app, clock)

    assert report.evidence_deleted == 1
    with pytest.raises(NotFound):
        store.get("acme", hashes["closed"])
    assert store.get("acme", hashes["open"]) == b"evidence open"
    assert store.get("acme", new.sha256) == b"new"
    assert set(values_of(app, EvidenceBlob, EvidenceBlob.sha256)) == {hashes["open"], new.sha256}
    (data,) = values_of(app, AuditRecord, AuditRecord.data, action="retention.expired")
    assert data["evidence_sha256"] == [hashes["closed"]]
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def test_a_dry_run_counts_and_changes_nothing(app: App, clock: FixedClock) -> None:
    add(app, delivery(clock, "old-done", age_days=200, status="accepted"))

    dry = expire(app, clock, dry_run=True)

    assert dry.raw_bodies_cleared == 1
    assert values_of(app, WebhookDelivery, WebhookDelivery.body) != [""]
    assert values_of(app, AuditRecord, AuditRecord.id, action="retention.expired") == []


def test_the_cli_sets_windows_and_a_run_reports_what_it_removed(
    app: App, clock: FixedClock
) -> None:
    add(app, delivery(clock, "old-done", age_days=40, status="accepted"))
    cli = typer.Typer()
    register(cli, app_factory=lambda: app)
    runner = CliRunner()

    shown = runner.invoke(
        cli, ["retention", "windows", "--tenant", "acme", "--raw-body-days", "14"]
    )
    bad = runner.invoke(cli, ["retention", "windows", "--tenant", "acme", "--message-days", "1"])
    ran = runner.invoke(cli, ["retention", "run", "--tenant", "acme"])

    assert shown.exit_code == 0
    assert "raw_body_days = 14" in shown.output
    assert bad.exit_code == 1
    assert "message_days is 30 to 3660 days" in bad.output
    assert ran.exit_code == 0, ran.output
    assert "raw bodies cleared" in ran.output
    assert values_of(app, WebhookDelivery, WebhookDelivery.body) == [""]
    assert verify_tenant(app.sessions, tenant_id="acme").ok
