"""Importing a file of events (JSONL, CSV feeds, recorded webhooks): streamed, stored in
bulk, resumable.

The file is read as a stream of units (``import_units``), never whole. Each batch of
units (``batch`` of them, or ``BATCH_BYTES`` of file, whichever comes first) is checked
like the intake and written with a few statements (``bulk_intake``), and the run's
progress in ``import_runs`` is written in the same transaction. So a batch is stored and
counted, or neither: running the same file again after a crash (same sha256 and format,
run not completed) carries on after the last committed batch, and the inbox's unique key
would catch a repeated event anyway.

On PostgreSQL a writer thread stores each batch while the next one is read and checked,
so the server's time and the decoding's overlap instead of adding up; it takes a batch
only once the previous one is committed, so batches still commit in file order and at
most one is in flight. SQLite does its work in this process, handing the GIL back and
forth for every row, so there a thread only adds waiting: batches are stored inline.

Importing only stores. The events wait in the inbox, pending, for a worker to apply them
in replay order; ``process=True`` (``orderops import --process``) drains the tenant's
inbox and runs the time sweeps before returning, for small installs and the demo. Event
times come from the payloads and the sweep judges against the clock, so a processed
backfill opens the cases that are overdue *now*.

Rows that cannot be used go to the error report (``import_report``); a refused event is
also a dead letter naming its file and row. A resumed run re-reads the units it skips
without storing them, so its report covers the whole file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import CaseEvent
from orderops.domain.clock import Clock
from orderops.ingest import arrivals
from orderops.ingest.bulk_intake import (
    BATCH,
    Refusal,
    StoreCounts,
    check_item,
    dead_letter,
    write_batch,
)
from orderops.ingest.csv_feeds import FeedOptions, RowIssue
from orderops.ingest.import_formats import ImportFormat
from orderops.ingest.import_report import IssueReport, default_report_path
from orderops.ingest.import_units import Mapped, Unit, UnitStream, read_units
from orderops.storage.repositories.inbox_bulk import PendingRow
from orderops.storage.tables import DeadLetter
from orderops.storage.tables.imports import ImportRun, ImportRunStatus
from orderops.storage.uow import UnitOfWork
from orderops.workflow.pipeline import process_pending
from orderops.workflow.sweeps import sweep_late_orders

__all__ = [
    "BATCH",
    "ImportFormat",
    "ImportProgress",
    "ImportSummary",
    "default_report_path",
    "import_file",
]

BATCH_BYTES = 32 * 1024 * 1024
"""A batch also ends after this much file, so a file of large events holds a bounded
amount in memory whatever ``batch`` says."""


@dataclass(frozen=True)
class ImportProgress:
    units_done: int
    bytes_read: int
    bytes_total: int


Progress = Callable[[ImportProgress], None]
"""Called after each batch (committed, or skipped over by a resumed run)."""


@dataclass
class ImportSummary:
    run_id: str
    rows_total: int
    """Units in the file (lines, CSV rows, orders)."""
    resumed_from: int
    accepted: int
    duplicates: int
    rejected: int
    """Events refused and dead-lettered."""
    rejected_rows: int = 0
    skipped_rows: int = 0
    issues: list[RowIssue] = field(default_factory=list)
    """The first issues, for a glance; the report holds every one."""
    case_changes: int = 0


def import_file(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    path: Path,
    fmt: ImportFormat,
    clock: Clock,
    options: FeedOptions | None = None,
    report_path: Path | None = None,
    batch: int = BATCH,
    process: bool = False,
    on_progress: Progress | None = None,
) -> ImportSummary:
    """Store ``path`` in ``tenant_id``'s inbox, resuming an unfinished run of the same file."""
    options = options or FeedOptions()
    if options.as_of is None:
        options = replace(options, as_of=clock.now())
    size = path.stat().st_size

    def settle(checked: _Checked, writing: Future[None] | None) -> None:
        if writing is not None:
            writing.result()
        if on_progress:
            on_progress(ImportProgress(checked.units_after, checked.bytes_read, size))

    with path.open("rb") as handle:
        stream = read_units(fmt, handle, options)
        run = _open_run(sessions, tenant_id, _sha256(path), path.name, fmt, clock)
        job = _Job(sessions, tenant_id, run, clock, channel=f"import:{fmt}", file=path.name)
        try:
            with (
                IssueReport(report_path or default_report_path(path)) as report,
                _writer(sessions) as writer,
            ):
                previous: tuple[_Checked, Future[None] | None] | None = None
                for part in _batches(stream, batch):
                    checked = job.check(part, bytes_read=stream.bytes_read)
                    report.add(checked.issues)
                    if previous is not None:
                        settle(*previous)
                    previous = checked, _write(writer, job, checked)
                if previous is not None:
                    settle(*previous)
        except BaseException as exc:
            _finish(sessions, tenant_id, run.id, ImportRunStatus.INTERRUPTED, repr(exc), clock)
            raise
    _finish(sessions, tenant_id, run.id, ImportRunStatus.COMPLETED, None, clock, job.units)
    changes: list[CaseEvent] = []
    if process:
        changes = process_pending(sessions, tenant_id=tenant_id, clock=clock)
        changes += sweep_late_orders(sessions, tenant_id=tenant_id, clock=clock)
    return ImportSummary(
        run_id=run.id,
        rows_total=job.units,
        resumed_from=run.start,
        accepted=job.counts.accepted,
        duplicates=job.counts.duplicates,
        rejected=job.counts.rejected,
        rejected_rows=report.rejected,
        skipped_rows=report.skipped,
        issues=report.first,
        case_changes=len(changes),
    )


def _writer(sessions: sessionmaker[Session]) -> AbstractContextManager[Executor | None]:
    with sessions() as session:
        server = session.get_bind().dialect.name == "postgresql"
    return ThreadPoolExecutor(1, thread_name_prefix="import-writer") if server else nullcontext()


def _write(writer: Executor | None, job: _Job, checked: _Checked) -> Future[None] | None:
    """Store the batch, in the writer thread when there is one; what to wait for."""
    if not checked.fresh:
        return None
    if writer is None:
        job.store(checked)
        return None
    return writer.submit(job.store, checked)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _batches(stream: UnitStream, size: int) -> Iterator[list[Mapped]]:
    """At most ``size`` units (and the row issues among them) or ``BATCH_BYTES`` of file."""
    part: list[Mapped] = []
    units, start = 0, stream.bytes_read
    for mapped in stream:
        part.append(mapped)
        if isinstance(mapped, Unit):
            units += 1
            if units >= size or stream.bytes_read - start >= BATCH_BYTES:
                yield part
                part, units, start = [], 0, stream.bytes_read
    if part:
        yield part


@dataclass
class _Run:
    id: str
    start: int
    """Units an earlier run of this file committed."""
    counts: StoreCounts


@dataclass
class _Checked:
    """A batch read and checked, ready for the writer."""

    rows: list[PendingRow]
    letters: list[DeadLetter]
    issues: list[RowIssue]
    fresh: bool
    """Holds units the run has not stored yet (a resumed run skips the others)."""
    units_after: int
    bytes_read: int


class _Job:
    """One import's batches: checks each (reader), stores what the run has not (writer)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        tenant_id: str,
        run: _Run,
        clock: Clock,
        *,
        channel: str,
        file: str,
    ) -> None:
        self._sessions, self._tenant, self._run, self._clock = sessions, tenant_id, run, clock
        self._channel, self._file = channel, file
        self.units = 0
        self.counts = replace(run.counts)

    def check(self, part: list[Mapped], *, bytes_read: int) -> _Checked:
        """The inbox rows and dead letters of the batch's new units; the issues of all."""
        now = self._clock.now()
        rows: list[PendingRow] = []
        letters: list[DeadLetter] = []
        issues: list[RowIssue] = []
        fresh = False
        for mapped in part:
            if isinstance(mapped, RowIssue):
                issues.append(mapped)
                continue
            store = self.units >= self._run.start
            fresh |= store
            self.units += 1
            refusals = [mapped.refused] if mapped.refused else []
            for item in mapped.items:
                checked = check_item(item, tenant_id=self._tenant, received_at=now)
                if isinstance(checked, Refusal):
                    refusals.append(checked)
                elif store:
                    rows.append(checked)
            for refusal in refusals:
                issues += [RowIssue(row, refusal.reason) for row in mapped.rows]
                if store:
                    letters.append(self._letter(refusal, mapped.rows, now))
        return _Checked(rows, letters, issues, fresh, self.units, bytes_read)

    def _letter(self, refusal: Refusal, rows: tuple[int, ...], now: datetime) -> DeadLetter:
        where = f"{self._file} row{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows))}"
        return dead_letter(
            refusal, tenant_id=self._tenant, channel=self._channel, received_at=now, where=where
        )

    def store(self, checked: _Checked) -> None:
        """One transaction: the batch's rows, its dead letters and the run's progress."""
        with UnitOfWork(self._sessions, tenant_id=self._tenant) as uow:
            stored = write_batch(
                uow, checked.rows, checked.letters, channel=self._channel, now=self._clock.now()
            )
            counts = replace(self.counts)
            counts += stored
            uow.session.execute(
                update(ImportRun)
                .where(ImportRun.tenant_id == self._tenant, ImportRun.id == self._run.id)
                .values(
                    rows_done=checked.units_after,
                    rows_total=checked.units_after,
                    accepted=counts.accepted,
                    duplicates=counts.duplicates,
                    rejected=counts.rejected,
                    updated_at=self._clock.now(),
                )
                .execution_options(synchronize_session=False)
            )
            uow.commit()
        self.counts = counts
        if stored.accepted:
            arrivals.announce()


def _open_run(
    sessions: sessionmaker[Session],
    tenant_id: str,
    sha256: str,
    name: str,
    fmt: ImportFormat,
    clock: Clock,
) -> _Run:
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
        if unfinished is not None:
            unfinished.status, unfinished.updated_at, unfinished.error = (
                ImportRunStatus.RUNNING,
                now,
                None,
            )
            run = _Run(
                unfinished.id,
                unfinished.rows_done,
                StoreCounts(unfinished.accepted, unfinished.duplicates, unfinished.rejected),
            )
        else:
            created = ImportRun(
                tenant_id=tenant_id,
                file_sha256=sha256,
                file_name=name[:500],
                format=fmt,
                rows_done=0,
                rows_total=0,
                accepted=0,
                duplicates=0,
                rejected=0,
                status=ImportRunStatus.RUNNING,
                started_at=now,
                updated_at=now,
            )
            uow.session.add(created)
            uow.session.flush()
            run = _Run(created.id, 0, StoreCounts())
        uow.commit()
    return run


def _finish(
    sessions: sessionmaker[Session],
    tenant_id: str,
    run_id: str,
    status: str,
    error: str | None,
    clock: Clock,
    total: int | None = None,
) -> None:
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        run = uow.session.scalar(
            select(ImportRun).where(ImportRun.tenant_id == tenant_id, ImportRun.id == run_id)
        )
        if run is None:
            raise LookupError(f"import run {run_id} vanished")
        now = clock.now()
        run.status, run.error, run.updated_at = status, error and error[:4000], now
        run.finished_at = now if status == ImportRunStatus.COMPLETED else None
        if total is not None:
            run.rows_done = run.rows_total = total
        uow.commit()
