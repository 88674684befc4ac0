"""Importing a file of events (JSONL, CSV feeds, recorded webhooks), resumably.

A file is first mapped, purely and deterministically, to an ordered list of envelopes
(the "units" of the import) and a list of row issues. The units then go through the
ordinary intake (``ingest_items``) in chunks; after each chunk the ``import_runs`` row
records how many units are done, so running the same file again after an interruption
(same sha256, same format, run not completed) carries on from there. A chunk committed
just before a crash but not yet recorded is sent again: the inbox dedupes its events.

Event times come from the payloads; after the import the late-order sweep judges
against the clock, so a backfill opens the cases that are overdue *now*.

Recorded webhooks are mapped with the provider adapters *without* a signature check:
the file is trusted operator input (recorded deliveries), not a request from outside.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import InvalidEvent
from orderops.ingest import safe_json
from orderops.ingest.adapters import ADAPTERS
from orderops.ingest.batch import BatchReport, ingest_items
from orderops.ingest.csv_feeds import Feed, FeedItem, FeedKind, FeedOptions, RowIssue, map_feed
from orderops.ingest.envelope import MAX_EVENT_BYTES, parse_event
from orderops.storage.tables.imports import ImportRun, ImportRunStatus
from orderops.storage.uow import UnitOfWork
from orderops.workflow.pipeline import process_pending
from orderops.workflow.sweeps import sweep_late_orders


class ImportFormat(StrEnum):
    JSONL = "jsonl"
    CSV_ORDERS = "csv-orders"
    CSV_INVENTORY = "csv-inventory"
    CSV_CUSTOMERS = "csv-customers"
    WEBHOOKS = "webhooks"


_CSV_KINDS = {
    ImportFormat.CSV_ORDERS: FeedKind.ORDERS,
    ImportFormat.CSV_INVENTORY: FeedKind.INVENTORY,
    ImportFormat.CSV_CUSTOMERS: FeedKind.CUSTOMERS,
}


def map_file(fmt: ImportFormat, text: str, *, tenant_id: str, options: FeedOptions) -> Feed:
    """The file's units and issues; pure, so a resumed import sees the same list."""
    if fmt in _CSV_KINDS:
        feed = map_feed(_CSV_KINDS[fmt], text, options)
    elif fmt is ImportFormat.JSONL:
        feed = _jsonl(text)
    else:
        feed = _webhooks(text)
    feed.issues += _intake_issues(feed.items, tenant_id)
    feed.issues.sort(key=lambda issue: issue.row)
    return feed


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _jsonl(text: str) -> Feed:
    """Every line goes to the intake; a line that is not JSON becomes a dead letter there."""
    feed = Feed()
    for number, line in _lines(text):
        try:
            value: Any = safe_json.loads(line)
        except safe_json.UnsafeJson as exc:
            value = {"_unparseable_line": number, "text": line[:1000], "error": str(exc)}
        feed.items.append(FeedItem((number,), value))
    return feed


def _webhooks(text: str) -> Feed:
    feed = Feed()
    for number, line in _lines(text):
        try:
            envelopes = _delivery_events(line)
        except InvalidEvent as exc:
            feed.issues.append(RowIssue(number, exc.message))
            continue
        if not envelopes:
            feed.issues.append(RowIssue(number, "skipped: maps to no canonical event", True))
        feed.items += [FeedItem((number,), envelope) for envelope in envelopes]
    return feed


def _delivery_events(line: str) -> list[dict[str, Any]]:
    try:
        delivery = safe_json.loads(line)
    except safe_json.UnsafeJson as exc:
        raise InvalidEvent(f"not JSON we can hold: {exc.message}") from exc
    if not isinstance(delivery, dict):
        raise InvalidEvent("a recorded delivery must be a JSON object")
    source, headers, body = delivery.get("source"), delivery.get("headers"), delivery.get("body")
    if source not in ADAPTERS:
        raise InvalidEvent(f"source: {source!r} is not one of {', '.join(sorted(ADAPTERS))}")
    if not isinstance(headers, dict) or not isinstance(body, str):
        raise InvalidEvent("a recorded delivery needs headers (an object) and body (a string)")
    return ADAPTERS[source].to_events(
        headers={str(k): str(v) for k, v in headers.items()}, body=body.encode("utf-8")
    )


def _intake_issues(items: list[FeedItem], tenant_id: str) -> list[RowIssue]:
    """What the intake will refuse, known up front so a resumed run reports it too."""
    issues: list[RowIssue] = []
    for item in items:
        try:
            raw = json.dumps(item.envelope, ensure_ascii=False, default=str)
            if len(raw.encode("utf-8")) > MAX_EVENT_BYTES:
                raise InvalidEvent(f"event exceeds {MAX_EVENT_BYTES} bytes")
            parse_event(item.envelope, tenant_id=tenant_id)
        except InvalidEvent as exc:
            issues += [RowIssue(row, exc.message) for row in item.rows]
    return issues


@dataclass
class ImportSummary:
    run_id: str
    rows_total: int
    resumed_from: int
    accepted: int
    duplicates: int
    rejected: int
    issues: list[RowIssue] = field(default_factory=list)
    case_changes: int = 0

    @property
    def rejected_rows(self) -> list[RowIssue]:
        return [issue for issue in self.issues if not issue.skipped]


Progress = Callable[[int, int], None]
"""Called with (units done, units total) after each committed chunk."""


def import_file(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    path: Path,
    fmt: ImportFormat,
    clock: Clock,
    options: FeedOptions | None = None,
    report_path: Path | None = None,
    chunk: int = 200,
    on_progress: Progress | None = None,
) -> ImportSummary:
    """Import ``path`` for ``tenant_id``, resuming an unfinished run of the same file."""
    data = path.read_bytes()
    options = options or FeedOptions()
    if options.as_of is None:
        options = replace(options, as_of=clock.now())
    feed = map_file(fmt, data.decode("utf-8-sig"), tenant_id=tenant_id, options=options)
    run_id, start = _open_run(
        sessions,
        tenant_id=tenant_id,
        sha256=hashlib.sha256(data).hexdigest(),
        name=path.name,
        fmt=fmt,
        total=len(feed.items),
        clock=clock,
    )
    base = _counters(sessions, tenant_id, run_id)
    done = start

    def after_chunk(report: BatchReport, size: int) -> None:
        nonlocal done
        done += size
        _record(sessions, tenant_id, run_id, done, _add(base, report), clock=clock)
        if on_progress:
            on_progress(done, len(feed.items))

    try:
        report = ingest_items(
            sessions,
            tenant_id=tenant_id,
            items=[item.envelope for item in feed.items[start:]],
            channel=f"import:{fmt}"[:64],
            clock=clock,
            chunk=chunk,
            on_chunk=after_chunk,
        )
    except BaseException as exc:
        _finish(sessions, tenant_id, run_id, ImportRunStatus.INTERRUPTED, repr(exc), clock)
        raise
    changes = process_pending(sessions, tenant_id=tenant_id, clock=clock)
    changes += sweep_late_orders(sessions, tenant_id=tenant_id, clock=clock)
    _finish(sessions, tenant_id, run_id, ImportRunStatus.COMPLETED, None, clock)
    totals = _add(base, report)
    summary = ImportSummary(
        run_id=run_id,
        rows_total=len(feed.items),
        resumed_from=start,
        accepted=totals[0],
        duplicates=totals[1],
        rejected=totals[2],
        issues=feed.issues,
        case_changes=len(report.changes) + len(changes),
    )
    write_report(report_path or default_report_path(path), feed.issues)
    return summary


def default_report_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.errors.jsonl")


def write_report(path: Path, issues: list[RowIssue]) -> None:
    """One JSON object per line: row, reason, and whether it was rejected or skipped."""
    lines = [
        json.dumps(
            {
                "row": issue.row,
                "reason": issue.reason,
                "kind": "skipped" if issue.skipped else "rejected",
            }
        )
        for issue in issues
    ]
    path.write_text("".join(line + "\n" for line in lines), "utf-8")


def _open_run(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    sha256: str,
    name: str,
    fmt: ImportFormat,
    total: int,
    clock: Clock,
) -> tuple[str, int]:
    """The unfinished run of this file to resume, or a new run from unit zero."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        unfinished = uow.session.scalar(
            select(ImportRun)
            .where(
                ImportRun.tenant_id == tenant_id,
                ImportRun.file_sha256 == sha256,
                ImportRun.format == fmt,
                ImportRun.status != ImportRunStatus.COMPLETED,
            )
            .order_by(ImportRun.started_at.desc())
            .limit(1)
        )
        now = clock.now()
        if unfinished is not None and unfinished.rows_total == total:
            unfinished.status, unfinished.updated_at, unfinished.error = (
                ImportRunStatus.RUNNING,
                now,
                None,
            )
            run_id, start = unfinished.id, unfinished.rows_done
        else:
            run = ImportRun(
                tenant_id=tenant_id,
                file_sha256=sha256,
                file_name=name[:500],
                format=fmt,
                rows_done=0,
                rows_total=total,
                accepted=0,
                duplicates=0,
                rejected=0,
                status=ImportRunStatus.RUNNING,
                started_at=now,
                updated_at=now,
            )
            uow.session.add(run)
            uow.session.flush()
            run_id, start = run.id, 0
        uow.commit()
    return run_id, start


_Counts = tuple[int, int, int]


def _counters(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> _Counts:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        run = _get(uow, run_id)
        return run.accepted, run.duplicates, run.rejected


def _add(base: _Counts, report: BatchReport) -> _Counts:
    return base[0] + report.accepted, base[1] + report.duplicates, base[2] + len(report.rejected)


def _record(
    sessions: sessionmaker[Session],
    tenant_id: str,
    run_id: str,
    done: int,
    counts: _Counts,
    *,
    clock: Clock,
) -> None:
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        run = _get(uow, run_id)
        run.rows_done = done
        run.accepted, run.duplicates, run.rejected = counts
        run.updated_at = clock.now()
        uow.commit()


def _finish(
    sessions: sessionmaker[Session],
    tenant_id: str,
    run_id: str,
    status: str,
    error: str | None,
    clock: Clock,
) -> None:
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        run = _get(uow, run_id)
        now = clock.now()
        run.status, run.error, run.updated_at = status, error and error[:4000], now
        run.finished_at = now if status == ImportRunStatus.COMPLETED else None
        uow.commit()


def _get(uow: UnitOfWork, run_id: str) -> ImportRun:
    run = uow.session.scalar(
        select(ImportRun).where(ImportRun.tenant_id == uow.tenant_id, ImportRun.id == run_id)
    )
    if run is None:
        raise LookupError(f"import run {run_id} vanished")
    return run
