"""`orderops import`: files stored as pending events, resumable and reported; processed
later by workers, or at once with ``process=True`` / ``--process``."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from builders.events import order_placed, payment
from orderops.bootstrap import App
from orderops.commands.imports import register
from orderops.domain.clock import FixedClock
from orderops.ingest.csv_feeds import FeedOptions
from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.tables import (
    Case,
    Customer,
    DeadLetter,
    InboxEvent,
    InventoryPosition,
    Order,
)
from orderops.storage.tables.imports import ImportRun, ImportRunStatus
from orderops.storage.uow import UnitOfWork
from orderops.workflow.importer import ImportFormat, ImportProgress, import_file
from orderops.workflow.pipeline import process_pending

FIXTURES = Path(__file__).parents[1] / "fixtures"
UCI = FIXTURES / "datasets" / "uci_online_retail" / "online_retail_sample.csv"
STRIPE = FIXTURES / "stripe" / "webhook_events"


class Interrupted(Exception):
    pass


def copy_fixture(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    return target


def uci_head(tmp_path: Path, rows: int) -> Path:
    lines = UCI.read_text("utf-8").splitlines(keepends=True)
    target = tmp_path / "uci_head.csv"
    target.write_text("".join(lines[: rows + 1]), "utf-8")
    return target


def count(app: App, tenant_id: str, model: Any, *where: Any) -> int:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        query = select(func.count()).select_from(model).where(model.tenant_id == tenant_id, *where)
        return int(uow.session.scalar(query) or 0)


def orders_state(app: App, tenant_id: str) -> list[tuple[Any, ...]]:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        orders = uow.session.scalars(
            select(Order).where(Order.tenant_id == tenant_id).order_by(Order.order_ref)
        ).all()
        return [
            (
                o.order_ref,
                o.total_minor,
                o.currency,
                o.placed_at,
                o.status,
                tuple((line.sku, line.quantity, line.unit_price_minor) for line in o.lines),
            )
            for o in orders
        ]


def pending(app: App, tenant_id: str) -> int:
    return count(app, tenant_id, InboxEvent, InboxEvent.status == InboxStatus.PENDING)


def the_run(app: App, tenant_id: str) -> ImportRun:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        run = uow.session.scalars(select(ImportRun).where(ImportRun.tenant_id == tenant_id)).one()
        uow.session.expunge(run)
        return run


def test_csv_orders_are_stored_pending_then_become_orders_and_bad_rows_go_to_the_report(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    path = copy_fixture(FIXTURES / "csv" / "orders.csv", tmp_path)
    summary = import_file(
        app.sessions, tenant_id="acme", path=path, fmt=ImportFormat.CSV_ORDERS, clock=clock
    )
    assert (summary.accepted, summary.duplicates, summary.rejected) == (2, 0, 0)
    assert (summary.rejected_rows, summary.skipped_rows) == (5, 0)
    assert pending(app, "acme") == 2
    assert orders_state(app, "acme") == []

    process_pending(app.sessions, tenant_id="acme", clock=clock)

    assert pending(app, "acme") == 0
    assert [o[0] for o in orders_state(app, "acme")] == ["A-1001", "A-1002"]
    assert orders_state(app, "acme")[0][1] == 2 * 1990 + 1250
    report = [json.loads(line) for line in (tmp_path / "orders.csv.errors.jsonl").open()]
    assert [(r["row"], r["kind"]) for r in report] == [(n, "rejected") for n in (5, 6, 7, 8, 9)]
    assert orders_state(app, "globex") == []


def test_importing_the_same_file_again_only_finds_duplicates(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    path = copy_fixture(FIXTURES / "csv" / "inventory.csv", tmp_path)
    first = import_file(
        app.sessions, tenant_id="acme", path=path, fmt=ImportFormat.CSV_INVENTORY, clock=clock
    )
    second = import_file(
        app.sessions, tenant_id="acme", path=path, fmt=ImportFormat.CSV_INVENTORY, clock=clock
    )
    assert (first.accepted, first.duplicates) == (3, 0)
    assert (second.accepted, second.duplicates) == (0, 3)
    assert count(app, "acme", InboxEvent) == 3
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    assert count(app, "acme", InventoryPosition) == 3


def test_customers_without_update_time_are_stamped_with_the_import_clock(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    path = copy_fixture(FIXTURES / "csv" / "customers.csv", tmp_path)
    summary = import_file(
        app.sessions,
        tenant_id="acme",
        path=path,
        fmt=ImportFormat.CSV_CUSTOMERS,
        clock=clock,
        process=True,
    )
    assert summary.accepted == 2
    assert [i.row for i in summary.issues if not i.skipped] == [4, 5]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        customers = uow.session.scalars(select(Customer).order_by(Customer.email)).all()
        seen = [(c.email, c.tier, c.updated_at) for c in customers]
    assert seen == [
        ("ana@example.com", "vip", clock.now()),
        ("ben@example.com", "standard", clock.now()),
    ]


def test_an_interrupted_import_resumes_and_ends_like_an_uninterrupted_one(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    path = uci_head(tmp_path, 120)
    options = FeedOptions(timezone=ZoneInfo("Europe/London"), currency="GBP")
    seen: list[int] = []

    def crash_after_40(step: ImportProgress) -> None:
        seen.append(step.units_done)
        if step.units_done >= 40:
            raise Interrupted(f"killed at {step.units_done}")

    args: dict[str, Any] = {"path": path, "fmt": ImportFormat.CSV_ORDERS, "options": options}
    with pytest.raises(Interrupted):
        import_file(
            app.sessions,
            tenant_id="acme",
            clock=clock,
            batch=20,
            on_progress=crash_after_40,
            **args,
        )
    stopped = the_run(app, "acme")
    assert (stopped.status, stopped.rows_done) == (ImportRunStatus.INTERRUPTED, 40)
    assert seen == [20, 40]
    assert count(app, "acme", InboxEvent) == 40

    resumed = import_file(app.sessions, tenant_id="acme", clock=clock, batch=20, **args)
    straight = import_file(app.sessions, tenant_id="globex", clock=clock, batch=20, **args)
    for tenant in ("acme", "globex"):
        process_pending(app.sessions, tenant_id=tenant, clock=clock)

    assert resumed.resumed_from == 40
    assert straight.resumed_from == 0
    assert resumed.accepted == straight.accepted == resumed.rows_total
    assert resumed.duplicates == 0
    assert resumed.rejected_rows == straight.rejected_rows
    assert orders_state(app, "acme") == orders_state(app, "globex")
    assert len(orders_state(app, "acme")) == resumed.rows_total
    assert count(app, "acme", InboxEvent) == count(app, "globex", InboxEvent)
    finished = the_run(app, "acme")
    assert (finished.status, finished.rows_done) == (ImportRunStatus.COMPLETED, finished.rows_total)
    assert finished.finished_at is not None


def test_recorded_webhooks_are_mapped_by_their_adapter_without_signature(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    deliveries = [
        {"source": "stripe", "headers": {}, "body": (STRIPE / f"{name}.json").read_text("utf-8")}
        for name in ("payment_intent.succeeded", "payment_intent.processing")
    ]
    deliveries.append({"source": "nowhere", "headers": {}, "body": "{}"})
    path = tmp_path / "deliveries.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in deliveries), "utf-8")
    report = tmp_path / "custom-report.jsonl"
    summary = import_file(
        app.sessions,
        tenant_id="acme",
        path=path,
        fmt=ImportFormat.WEBHOOKS,
        clock=clock,
        report_path=report,
    )
    assert summary.accepted == 2
    assert summary.rows_total == 2
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        types = set(uow.session.scalars(select(InboxEvent.type)))
        sources = set(uow.session.scalars(select(InboxEvent.source)))
    assert types == {"payment.updated"}
    assert sources == {"stripe"}
    rows = [json.loads(line) for line in report.open()]
    assert [r["row"] for r in rows] == [3]
    assert "'nowhere' is not one of" in rows[0]["reason"]


def test_jsonl_lines_that_cannot_be_accepted_are_dead_letters_naming_their_row(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    good = order_placed("o-9", at=clock.now() - timedelta(days=2))
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"id": "x"}) + "\n", "utf-8")
    summary = import_file(
        app.sessions, tenant_id="acme", path=path, fmt=ImportFormat.JSONL, clock=clock
    )
    assert (summary.accepted, summary.rejected) == (1, 2)
    assert [i.row for i in summary.issues] == [2, 3]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        letters = uow.session.scalars(select(DeadLetter).order_by(DeadLetter.reason)).all()
        seen = [(d.reason_code, d.reason.split(":")[0], d.body, d.channel) for d in letters]
    assert seen == [
        ("malformed_json", "events.jsonl row 2", "{not json", "import:jsonl"),
        ("invalid-event", "events.jsonl row 3", '{"id":"x"}', "import:jsonl"),
    ]
    assert pending(app, "acme") == 1


def test_after_a_backfill_the_sweep_judges_promises_against_now(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    placed = clock.now() - timedelta(days=10)
    events = [
        order_placed("o-late", at=placed, promised_by=placed + timedelta(days=3)),
        payment("o-late", status="captured", at=placed, payment_ref="pi_late"),
        order_placed("o-ontime", at=placed, promised_by=clock.now() + timedelta(days=3)),
        payment("o-ontime", status="captured", at=placed, payment_ref="pi_ontime"),
    ]
    path = tmp_path / "backfill.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), "utf-8")
    summary = import_file(
        app.sessions,
        tenant_id="acme",
        path=path,
        fmt=ImportFormat.JSONL,
        clock=clock,
        process=True,
    )
    assert summary.case_changes > 0
    assert pending(app, "acme") == 0
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        late = uow.session.execute(
            select(Order.order_ref, Case.exception_type)
            .join(Case, Case.order_id == Order.id)
            .where(Case.exception_type == "shipment_late")  # both are also stuck unshipped
        ).all()
    assert late == [("o-late", "shipment_late")]


def cli_for(app: App) -> typer.Typer:
    cli = typer.Typer()
    register(cli, make_app=lambda: app)
    return cli


def test_the_import_command_exits_1_when_rows_were_rejected(app: App, tmp_path: Path) -> None:
    path = copy_fixture(FIXTURES / "csv" / "orders.csv", tmp_path)
    report = tmp_path / "errors.jsonl"
    args = ["import", str(path), "--tenant", "acme", "--format", "csv-orders"]
    result = CliRunner().invoke(cli_for(app), [*args, "--report", str(report)])
    assert result.exit_code == 1, result.output
    assert "accepted 2" in result.output
    assert "row 5:" in result.output
    assert len(report.read_text("utf-8").splitlines()) == 5


def test_the_import_command_only_stores_unless_asked_to_process(app: App, tmp_path: Path) -> None:
    path = copy_fixture(FIXTURES / "csv" / "inventory.csv", tmp_path)
    args = ["import", str(path), "--tenant", "acme", "--format", "csv-inventory"]

    stored = CliRunner().invoke(cli_for(app), args)
    assert (pending(app, "acme"), count(app, "acme", InventoryPosition)) == (3, 0)
    processed = CliRunner().invoke(cli_for(app), [*args, "--process", "--batch-size", "1"])

    assert stored.exit_code == processed.exit_code == 1  # rows 4 and 5 are rejected
    assert "stored as pending" in stored.output
    assert "duplicates 3" in processed.output
    assert "processed: case changes" in processed.output
    assert (pending(app, "acme"), count(app, "acme", InventoryPosition)) == (0, 3)


def test_the_import_command_exits_0_for_a_clean_file_given_its_zone_and_currency(
    app: App, tmp_path: Path
) -> None:
    lines = UCI.read_text("utf-8").splitlines(keepends=True)
    path = tmp_path / "clean.csv"
    path.write_text(lines[0] + lines[1] + lines[2], "utf-8")
    args = ["import", str(path), "-t", "acme", "-f", "csv-orders"]
    zoneless = CliRunner().invoke(cli_for(app), args)
    path.write_text(lines[0] + lines[1] + lines[2] + "\n", "utf-8")
    given = CliRunner().invoke(
        cli_for(app), [*args, "--timezone", "Europe/London", "--currency", "GBP"]
    )
    assert zoneless.exit_code == 2
    assert "--currency" in zoneless.output
    assert given.exit_code == 0, given.output
    assert pending(app, "acme") == 2


def test_jsonl_lines_too_deep_too_long_or_with_nul_are_dead_letters_not_crashes(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    good = order_placed("o-10", at=clock.now() - timedelta(days=2))
    hostile = [
        "[" * 5000 + "]" * 5000,  # past Python's recursion limit
        '{"id": ' + "9" * 5000 + "}",  # past Python's integer digit limit
        '{"id": "a\\u0000b"}',  # PostgreSQL text cannot hold NUL
    ]
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(good) + "\n" + "\n".join(hostile) + "\n", "utf-8")

    summary = import_file(
        app.sessions, tenant_id="acme", path=path, fmt=ImportFormat.JSONL, clock=clock
    )

    assert (summary.accepted, summary.rejected) == (1, 3)
    assert [i.row for i in summary.issues] == [2, 3, 4]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        codes = set(uow.session.scalars(select(DeadLetter.reason_code)))
    assert codes == {"json_too_deep", "json_number_too_long", "json_nul_character"}
