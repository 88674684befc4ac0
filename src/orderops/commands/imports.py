"""`orderops import`, `orderops consume` and `orderops policy ...`: thin shells.

Each command parses options, calls one service (``workflow.importer``,
``ingest.nats_consumer``, ``ingest.policy_file``) and renders the answer; exit code 1
means some input was refused, and the message says where to read why.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console

from orderops.commands.shared import (
    AppFactory,
    TenantOpt,
    default_app,
    require_secret_key,
    require_tenant,
)
from orderops.ingest.import_formats import ImportFormat

if TYPE_CHECKING:
    from orderops.domain.policy import FulfillmentPolicy

# The services (and with them the database layer) are imported inside each command, so
# that `orderops --help` does not load them.

console = Console()

FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Input file.")]


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add `import`, `consume` and the `policy` group to ``cli``."""
    policy_cli = typer.Typer(no_args_is_help=True, help="Per-tenant fulfillment policy.")
    cli.add_typer(policy_cli, name="policy")

    @cli.command("import")
    def import_command(
        file: FileArg,
        tenant: TenantOpt,
        format: Annotated[ImportFormat, typer.Option("--format", "-f", help="File format.")],
        timezone: Annotated[
            str | None, typer.Option(help="Zone of times written without one, e.g. Europe/London.")
        ] = None,
        currency: Annotated[
            str | None, typer.Option(help="Currency of a CSV orders file without that column.")
        ] = None,
        source: Annotated[str, typer.Option(help="Source name for CSV events.")] = "csv",
        report: Annotated[
            Path | None, typer.Option(help="Error report (JSONL); default FILE.errors.jsonl.")
        ] = None,
        now: Annotated[
            datetime | None, typer.Option(help="Judge time-based checks at this time (UTC).")
        ] = None,
        process: Annotated[
            bool,
            typer.Option(
                "--process",
                help="Also process the tenant's pending events and run the sweeps before "
                "exiting (small installs, demos); otherwise `orderops worker` does it.",
            ),
        ] = False,
        batch_size: Annotated[
            int | None,
            typer.Option(min=1, max=10_000, help="Units stored per transaction (default 500)."),
        ] = None,
    ) -> None:
        """Store a file's events; an interrupted import of the same file resumes where it stopped.

        Workers process the stored events, or this command does with --process.
        """
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        from orderops.domain.clock import FixedClock
        from orderops.ingest.csv_cells import FeedError
        from orderops.ingest.csv_feeds import FeedOptions
        from orderops.workflow.importer import BATCH, default_report_path, import_file

        app = make_app()
        if now is not None:
            app.clock = FixedClock(now if now.tzinfo else now.replace(tzinfo=ZoneInfo("UTC")))
        options = FeedOptions(
            source=source,
            timezone=_zone(timezone),
            currency=currency.upper() if currency else None,
            as_of=app.clock.now(),
        )
        require_tenant(app, tenant)  # a typo never creates a tenant (exit 2, names the fix)
        if process:
            require_secret_key(app)  # processing appends audit records
        columns = (BarColumn(), DownloadColumn(), TimeRemainingColumn())
        with Progress(*Progress.get_default_columns()[:1], *columns, console=console) as bar:
            task = bar.add_task(f"importing {file.name}", total=file.stat().st_size)
            try:
                summary = import_file(
                    app.sessions,
                    tenant_id=tenant,
                    path=file,
                    fmt=format,
                    clock=app.clock,
                    options=options,
                    report_path=report,
                    batch=batch_size or BATCH,
                    process=process,
                    on_progress=lambda step: bar.update(
                        task,
                        completed=step.bytes_read,
                        description=f"importing {file.name}: {step.units_done} units",
                    ),
                )
            except FeedError as exc:
                console.print(f"cannot import {file}: {exc.message}", style="red")
                raise typer.Exit(2) from exc
        if summary.resumed_from:
            console.print(f"resumed at unit {summary.resumed_from} of {summary.rows_total}")
        console.print(
            f"accepted {summary.accepted}, duplicates {summary.duplicates}, "
            f"dead letters {summary.rejected}, rejected rows {summary.rejected_rows}, "
            f"skipped rows {summary.skipped_rows}"
        )
        if process:
            console.print(f"processed: case changes {summary.case_changes}")
        else:
            console.print("stored as pending; `orderops worker` processes them")
        rejected = [issue for issue in summary.issues if not issue.skipped]
        for issue in rejected[:10]:
            console.print(f"  row {issue.row}: {issue.reason}", style="red", markup=False)
        if summary.rejected_rows or summary.skipped_rows:
            console.print(f"report: {report or default_report_path(file)}")
        if summary.rejected_rows:
            raise typer.Exit(1)

    @cli.command("consume")
    def consume_command(
        tenant: TenantOpt,
        stream: Annotated[str, typer.Option(help="JetStream stream.")] = "ORDEROPS",
        subject: Annotated[str, typer.Option(help="Subject filter.")] = "orderops.events.>",
        durable: Annotated[str, typer.Option(help="Durable consumer name.")] = "orderops",
        servers: Annotated[str, typer.Option(help="NATS URL.")] = "nats://127.0.0.1:4222",
        max_messages: Annotated[int | None, typer.Option(help="Stop after N messages.")] = None,
        idle_timeout: Annotated[
            float | None, typer.Option(help="Stop after this many idle seconds.")
        ] = None,
    ) -> None:
        """Store canonical events from a JetStream durable pull consumer, for one tenant."""
        from orderops.ingest.nats_consumer import ConsumeOptions, run_consumer

        app = make_app()
        require_tenant(app, tenant)
        options = ConsumeOptions(
            servers=servers,
            stream=stream,
            subject=subject,
            durable=durable,
            max_messages=max_messages,
            idle_timeout=idle_timeout,
        )
        try:
            result = run_consumer(app.sessions, tenant_id=tenant, clock=app.clock, options=options)
        except KeyboardInterrupt:
            console.print("stopped")
            return
        console.print(
            f"received {result.received}, accepted {result.accepted}, "
            f"duplicates {result.duplicates}, dead letters {result.dead_lettered}"
        )

    @policy_cli.command("validate")
    def policy_validate(file: FileArg) -> None:
        """Check a policy file; each problem is printed with its path."""
        _load_or_exit(file)
        console.print(f"{file} is a valid fulfillment policy")

    @policy_cli.command("load")
    def policy_load(
        file: FileArg,
        tenant: TenantOpt,
        actor: Annotated[str, typer.Option(help="Who loads it (audit).")] = "cli",
    ) -> None:
        """Store the file as the tenant's next policy version, audited with its diff."""
        from orderops.ingest.policy_file import store_policy

        policy = _load_or_exit(file)
        app = make_app()
        require_secret_key(app)  # the new version is audited
        require_tenant(app, tenant)
        stored = store_policy(
            app.sessions, tenant_id=tenant, policy=policy, actor=actor, clock=app.clock
        )
        if not stored.changes:
            console.print(f"policy of {tenant} unchanged (version {stored.version})")
            return
        console.print(f"policy of {tenant} is now version {stored.version}")
        for change in stored.changes:
            console.print(f"  {change.path}: {change.before!r} -> {change.after!r}", markup=False)


def _load_or_exit(file: Path) -> FulfillmentPolicy:
    from orderops.domain.policy import InvalidPolicy
    from orderops.ingest.policy_file import load_policy_file

    try:
        return load_policy_file(file)
    except InvalidPolicy as exc:
        for problem in exc.problems:
            console.print(f"{file}: {problem}", style="red", markup=False)
        raise typer.Exit(1) from exc


def _zone(name: str | None) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise typer.BadParameter(f"unknown time zone {name!r}", param_hint="--timezone") from exc
