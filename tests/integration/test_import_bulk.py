"""`orderops import` at database speed: a batch is a few statements, stores exactly what the
intake stores, counts repeats as duplicates, resumes after a crash without doubling a row,
and never reaches into another tenant."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text, update
from sqlalchemy.orm import Session

from builders.events import order_placed
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.errors import InvalidEvent
from orderops.ingest import bulk_intake
from orderops.ingest.envelope import MAX_EVENT_BYTES
from orderops.ingest.import_units import MAX_LINE_BYTES
from orderops.ingest.intake import accept_items
from orderops.storage.repositories.inbox_bulk import EventKey, PendingRow, insert_pending
from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.tables import DeadLetter, InboxEvent, Order
from orderops.storage.tables.imports import ImportRun, ImportRunStatus
from orderops.storage.uow import UnitOfWork
from orderops.workflow.importer import ImportFormat, ImportSummary, import_file
from orderops.workflow.pipeline import process_pending

INBOX_COLUMNS = (
    "source",
    "event_id",
    "type",
    "subject",
    "event_time",
    "received_at",
    "envelope",
    "status",
    "attempts",
    "processed_at",
    "error",
)


class DiskFull(Exception):
    pass


def events(clock: FixedClock, count: int, prefix: str = "o") -> list[dict[str, Any]]:
    placed = clock.now() - timedelta(days=1)
    return [
        order_placed(f"{prefix}-{n}", at=placed, event_id=f"evt-{prefix}-{n}") for n in range(count)
    ]


def jsonl(tmp_path: Path, items: Sequence[dict[str, Any]], name: str = "events.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(item) + "\n" for item in items), "utf-8")
    return path


def run_import(app: App, clock: FixedClock, path: Path, **kw: Any) -> ImportSummary:
    kw.setdefault("tenant_id", "acme")
    return import_file(app.sessions, path=path, fmt=ImportFormat.JSONL, clock=clock, **kw)


def inbox(app: App, tenant_id: str) -> list[InboxEvent]:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.scalars(
            select(InboxEvent).where(InboxEvent.tenant_id == tenant_id).order_by(InboxEvent.id)
        ).all()
        uow.session.expunge_all()
        return list(rows)


def count(app: App, tenant_id: str, model: Any) -> int:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        query = select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
        return int(uow.session.scalar(query) or 0)


def stored_envelopes(app: App, tenant_id: str) -> list[Any]:
    """The envelopes as the database holds them: on SQLite, the very text."""
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        query = "SELECT envelope FROM inbox WHERE tenant_id = :tenant ORDER BY event_id"
        return list(uow.session.scalars(text(query), {"tenant": tenant_id}))


def the_run(app: App, tenant_id: str) -> ImportRun:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        run = uow.session.scalars(select(ImportRun).where(ImportRun.tenant_id == tenant_id)).one()
        uow.session.expunge(run)
        return run


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement SQLAlchemy sends (an executemany counts once, as it is one call)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_2000_line_file_costs_a_bounded_number_of_statements_not_one_per_event(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    path = jsonl(tmp_path, events(clock, 2000))

    with statements(app.engine) as seen:
        summary = run_import(app, clock, path, batch=500)

    assert (summary.accepted, summary.duplicates, summary.rejected) == (2000, 0, 0)
    assert count(app, "acme", InboxEvent) == 2000
    assert len(seen) < 10 * 2000 / 500, seen  # ~5 per batch; a COPY is not seen here


def test_rows_are_exactly_those_the_intake_writes(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    items = [*events(clock, 3), {**events(clock, 1, "t")[0], "subject": "  padded  "}]
    accept_items(app.sessions, tenant_id="globex", items=items, channel="test", clock=clock)
    run_import(app, clock, jsonl(tmp_path, items))

    def shape(rows: list[InboxEvent]) -> list[tuple[Any, ...]]:
        return sorted(tuple(getattr(row, c) for c in INBOX_COLUMNS) for row in rows)

    imported, intake = inbox(app, "acme"), inbox(app, "globex")
    assert shape(imported) == shape(intake)
    assert stored_envelopes(app, "acme") == stored_envelopes(app, "globex")
    assert {row.status for row in imported} == {InboxStatus.PENDING}
    assert all(len(row.id) == 32 for row in imported)
    assert not {row.id for row in imported} & {row.id for row in intake}


@pytest.mark.parametrize("batch", [2, 500])
def test_repeats_within_the_file_and_events_already_in_the_inbox_are_duplicates(
    app: App, clock: FixedClock, tmp_path: Path, batch: int
) -> None:
    a, b, c = events(clock, 3)
    accept_items(app.sessions, tenant_id="acme", items=[c], channel="api", clock=clock)
    path = jsonl(tmp_path, [a, b, a, c, {**b, "data": {**b["data"], "number": "edited"}}])

    summary = run_import(app, clock, path, batch=batch)

    assert (summary.accepted, summary.duplicates, summary.rejected) == (2, 3, 0)
    assert summary.issues == []
    stored = {row.event_id: row.envelope for row in inbox(app, "acme")}
    assert sorted(stored) == sorted(e["id"] for e in (a, b, c))
    assert stored[b["id"]]["data"]["number"] == b["data"]["number"]  # the first one is kept


def test_a_bad_line_is_a_dead_letter_with_its_line_number_and_the_others_land(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    good = events(clock, 4)
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps(good[0]), json.dumps(good[1]), "", '{"id": "e-9", "source": 1', ""]
    lines += [json.dumps(good[2]), json.dumps({**good[3], "type": "order.teleported"})]
    path.write_text("\n".join(lines) + "\n", "utf-8")

    summary = run_import(app, clock, path, batch=2)

    assert (summary.accepted, summary.rejected) == (3, 2)
    assert [(i.row, i.skipped) for i in summary.issues] == [(4, False), (7, False)]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        reasons = sorted(uow.session.scalars(select(DeadLetter.reason)))
    assert reasons[0].startswith("mixed.jsonl row 4: body is not valid JSON")
    assert reasons[1].startswith("mixed.jsonl row 7: invalid envelope: type")
    report = [json.loads(line) for line in (tmp_path / "mixed.jsonl.errors.jsonl").open()]
    assert [(r["row"], r["kind"]) for r in report] == [(4, "rejected"), (7, "rejected")]


def test_an_over_long_line_is_refused_unread_and_an_oversized_event_by_its_size(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    first, last, big = events(clock, 3)
    big["data"]["note"] = "x" * (MAX_EVENT_BYTES + 10)
    huge = '{"id": "huge", "pad": "' + "y" * (MAX_LINE_BYTES + 1000) + '"}'
    path = tmp_path / "sizes.jsonl"
    path.write_text(
        "\n".join([json.dumps(first), huge, json.dumps(big), json.dumps(last)]) + "\n", "utf-8"
    )

    summary = run_import(app, clock, path)

    assert (summary.accepted, summary.rejected) == (2, 2)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        letters = uow.session.scalars(select(DeadLetter).order_by(DeadLetter.body_bytes)).all()
        seen = [(d.reason, d.body_truncated, d.body_bytes, len(d.body)) for d in letters]
    assert seen[0][0].endswith(f"row 3: event exceeds {MAX_EVENT_BYTES} bytes")
    assert seen[0][1] is False
    assert seen[1][0].startswith("sizes.jsonl row 2: line of ")
    assert seen[1][1:3] == (True, len(huge) + 1)
    assert seen[1][3] < 100_000
    assert sorted(row.event_id for row in inbox(app, "acme")) == sorted([first["id"], last["id"]])


def failing_on_call(number: int, real: Any) -> Any:
    """``real``, except that call ``number`` does its work and then fails before the commit."""
    calls = 0

    def wrapper(session: Session, tenant_id: str, rows: Sequence[PendingRow]) -> set[EventKey]:
        nonlocal calls
        calls += 1
        inserted: set[EventKey] = real(session, tenant_id, rows)
        if calls == number:
            raise DiskFull(f"failed after inserting {len(inserted)} rows")
        return inserted

    return wrapper


def test_a_crash_mid_file_resumes_after_the_last_committed_batch_without_doubling_a_row(
    app: App, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = events(clock, 2000)
    items[1700] = {"id": "bad"}
    path = jsonl(tmp_path, items)
    monkeypatch.setattr(bulk_intake, "insert_pending", failing_on_call(3, insert_pending))

    with pytest.raises(DiskFull):
        run_import(app, clock, path, batch=500)

    stopped = the_run(app, "acme")
    assert (stopped.status, stopped.rows_done, stopped.accepted) == ("interrupted", 1000, 1000)
    assert "DiskFull" in (stopped.error or "")
    assert (count(app, "acme", InboxEvent), count(app, "acme", DeadLetter)) == (1000, 0)

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:  # as a kill -9 leaves it
        uow.session.execute(update(ImportRun).values(status=ImportRunStatus.RUNNING))
        uow.commit()
    monkeypatch.undo()
    resumed = run_import(app, clock, path, batch=300)

    assert resumed.resumed_from == 1000
    assert (resumed.accepted, resumed.duplicates, resumed.rejected) == (1999, 0, 1)
    assert [issue.row for issue in resumed.issues] == [1701]
    assert (count(app, "acme", InboxEvent), count(app, "acme", DeadLetter)) == (1999, 1)
    finished = the_run(app, "acme")
    assert (finished.status, finished.rows_done, finished.rows_total) == (
        ImportRunStatus.COMPLETED,
        2000,
        2000,
    )


def test_importing_into_one_tenant_never_touches_another(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    items = events(clock, 30)
    accept_items(app.sessions, tenant_id="globex", items=items, channel="api", clock=clock)
    before = [(row.id, row.status, row.received_at) for row in inbox(app, "globex")]
    later = FixedClock(clock.now() + timedelta(hours=1))

    summary = run_import(app, later, jsonl(tmp_path, [*items, {"id": "bad"}]), process=True)

    assert (summary.accepted, summary.duplicates, summary.rejected) == (30, 0, 1)
    assert [(row.id, row.status, row.received_at) for row in inbox(app, "globex")] == before
    assert {row.status for row in inbox(app, "globex")} == {InboxStatus.PENDING}
    assert (count(app, "globex", Order), count(app, "acme", Order)) == (0, 30)
    assert (count(app, "globex", DeadLetter), count(app, "globex", ImportRun)) == (0, 0)


def test_the_demo_backfill_path_stores_in_bulk_and_dead_letters_what_it_refuses(
    app: App, clock: FixedClock
) -> None:
    items = [*events(clock, 5), {"id": "bad"}, events(clock, 1)[0]]

    counts = bulk_intake.store_items(
        app.sessions, tenant_id="acme", items=items, channel="demo", clock=clock, batch=2
    )

    assert (counts.accepted, counts.duplicates, counts.rejected) == (5, 1, 1)
    assert count(app, "acme", DeadLetter) == 1
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    assert count(app, "acme", Order) == 5


def test_checking_an_item_refuses_what_the_intake_refuses(clock: FixedClock) -> None:
    other_tenant = {**events(clock, 1)[0], "tenant": "globex"}

    refusal = bulk_intake.check_item(other_tenant, tenant_id="acme", received_at=clock.now())

    assert isinstance(refusal, bulk_intake.Refusal)
    assert refusal.code == InvalidEvent.code
    assert refusal.reason == "envelope names another tenant than the caller's"
