"""`orderops ingest FILE --tenant T`: a JSONL file of canonical events, processed at once.

The file is read a line at a time and stored and processed 500 events per transaction, so
its size is bounded by the disk, not memory; the progress bar counts bytes. The tenant must
exist (no typo creates one) and the settings are the real ones (no demo placeholder key:
the audit chain this writes is keyed by them).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orderops.commands.shared import AppFactory, TenantOpt, require_tenant

if TYPE_CHECKING:
    from orderops.bootstrap import App

console = Console()

CHUNK = 500
"""Events per transaction, as ``workflow.batch.ingest_items``."""


def production_app() -> App:
    """The desk with the configured settings: a placeholder secret key is refused."""
    from orderops.bootstrap import bootstrap
    from orderops.config import Settings

    return bootstrap(Settings())


def register(cli: typer.Typer, *, make_app: AppFactory = production_app) -> None:
    """Add `ingest` to ``cli``."""

    @cli.command()
    def ingest(
        file: Annotated[
            Path, typer.Argument(exists=True, dir_okay=False, help="JSONL of canonical events.")
        ],
        tenant: TenantOpt,
        now: Annotated[
            datetime | None, typer.Option(help="Judge time-based checks at this time (UTC).")
        ] = None,
    ) -> None:
        """Ingest a JSONL file of canonical events, then sweep; bad lines become dead letters."""
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        from orderops.domain.clock import FixedClock
        from orderops.workflow.batch import BatchReport, ingest_items
        from orderops.workflow.sweeps import sweep_late_orders

        app = make_app()
        try:
            require_tenant(app, tenant)
            if now is not None:
                app.clock = FixedClock(now if now.tzinfo else now.replace(tzinfo=UTC))
            total = BatchReport()
            refused: list[tuple[int, str]] = []
            columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
            with (
                file.open("rb") as stream,
                Progress(*Progress.get_default_columns()[:1], *columns, console=console) as bar,
            ):
                task = bar.add_task(f"ingesting {file.name}", total=file.stat().st_size)
                lines = _numbered_items(stream)
                while chunk := list(islice(lines, CHUNK)):
                    report = ingest_items(
                        app.sessions,
                        tenant_id=tenant,
                        items=[item for _, item in chunk],
                        channel=f"file:{file.name}",
                        clock=app.clock,
                        chunk=CHUNK,
                    )
                    total.accepted += report.accepted
                    total.duplicates += report.duplicates
                    total.changes += report.changes
                    refused += [(chunk[r.index][0], r.reason or "refused") for r in report.rejected]
                    bar.update(task, completed=stream.tell())
            swept = sweep_late_orders(app.sessions, tenant_id=tenant, clock=app.clock)
        finally:
            app.close()
        console.print(
            f"accepted {total.accepted}, duplicates {total.duplicates}, "
            f"rejected {len(refused)}, case changes {len(total.changes) + len(swept)}"
        )
        for line, reason in refused[:20]:
            console.print(f"  line {line}: {reason}", style="red", markup=False)


def _numbered_items(stream: IO[bytes]) -> Iterator[tuple[int, object]]:
    """(line number, parsed event) for each non-blank line; a line that is not JSON is
    passed on as a marker the intake dead-letters with its text."""
    for number, raw in enumerate(stream, 1):
        line = raw.decode("utf-8", errors="replace").strip()
        if not line:
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, {"_unparseable_line": number, "text": line[:1000], "error": str(exc)}
