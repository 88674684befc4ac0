"""`orderops retention run|status|window|windows`: old processed events out of the hot
tables, and what outlives them removed after its window.

``status`` is a dry run (what would move, and the oldest row that stays); ``run`` moves
it (``--dry-run`` prints the same figures and changes nothing), then enforces the content
windows and prints what they removed; ``window`` shows or sets how many days a tenant
keeps hot; ``windows`` shows or sets the content windows (archive, raw bodies, evidence,
messages). The worker also runs retention, once an hour at most.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands.shared import AppFactory, TenantOpt, default_app, opened_app

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.workflow.retention import RetentionReport

SomeTenantOpt = Annotated[
    str | None, typer.Option("--tenant", "-t", help="Tenant id (default: every tenant).")
]
BatchOpt = Annotated[int, typer.Option(min=1, max=100_000, help="Rows per transaction.")]
ACTOR = "cli"


def register(cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add the ``retention`` group to ``cli``; tests pass a factory for their own app."""
    factory = app_factory or default_app
    group = typer.Typer(
        no_args_is_help=True, help="Retention: old processed events to the archive tables."
    )
    cli.add_typer(group, name="retention")
    console = Console(width=160)

    def opened(tenant: str | None, *, signs: bool) -> AbstractContextManager[App]:
        return opened_app(factory, console, tenant=tenant, signs=signs)

    def reports(app: App, tenant: str | None, *, dry_run: bool, batch: int) -> None:
        from orderops.evidence.service import default_store
        from orderops.storage.uow import tenant_ids
        from orderops.workflow.retention import run_retention

        tenants = [tenant] if tenant else tenant_ids(app.sessions)
        store = default_store(app.settings)
        found = [
            run_retention(
                app.sessions,
                tenant_id=t,
                clock=app.clock,
                batch=batch,
                dry_run=dry_run,
                evidence=store,
            )
            for t in tenants
        ]
        console.print(_table(found, dry_run=dry_run))
        console.print(_expired_table(found, dry_run=dry_run))

    @group.command("run")
    def run(
        tenant: SomeTenantOpt = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Count what would move; change nothing.")
        ] = False,
        batch: BatchOpt = 1000,
    ) -> None:
        """Move processed rows past each tenant's window to the archive tables."""
        with opened(tenant, signs=not dry_run) as app:
            reports(app, tenant, dry_run=dry_run, batch=batch)

    @group.command("status")
    def status(tenant: SomeTenantOpt = None) -> None:
        """What a run would move now, and the oldest rows that stay hot."""
        with opened(tenant, signs=False) as app:
            reports(app, tenant, dry_run=True, batch=1000)

    @group.command("window")
    def window(
        tenant: TenantOpt,
        days: Annotated[
            int | None, typer.Option(help="Set the window to this many days (audited).")
        ] = None,
    ) -> None:
        """Show, or set, how many days of processed events the tenant keeps hot."""
        from orderops.storage.uow import UnitOfWork
        from orderops.workflow.retention import retention_window, set_retention_window

        with opened(tenant, signs=days is not None) as app:
            if days is None:
                with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                    console.print(f"{tenant}: {retention_window(uow)} days")
                return
            previous = set_retention_window(
                app.sessions, tenant_id=tenant, days=days, actor=ACTOR, clock=app.clock
            )
            console.print(f"{tenant}: {days} days (was {previous})")

    @group.command("windows")
    def windows(
        tenant: TenantOpt,
        archive_days: Annotated[
            int | None, typer.Option(help="Keep archived rows this long after archiving.")
        ] = None,
        raw_body_days: Annotated[
            int | None, typer.Option(help="Clear finished raw bodies this long after receipt.")
        ] = None,
        evidence_days: Annotated[
            int | None, typer.Option(help="Delete evidence no open case names after this.")
        ] = None,
        message_days: Annotated[
            int | None, typer.Option(help="Clear finished customer messages after this.")
        ] = None,
    ) -> None:
        """Show, or set (audited), how long archived rows, raw bodies, evidence and
        customer messages are kept; unset windows use the documented defaults."""
        from dataclasses import asdict

        from orderops.storage.uow import UnitOfWork
        from orderops.workflow.retention_windows import set_windows, windows_of

        changes = {
            name: days
            for name, days in (
                ("archive_days", archive_days),
                ("raw_body_days", raw_body_days),
                ("evidence_days", evidence_days),
                ("message_days", message_days),
            )
            if days is not None
        }
        with opened(tenant, signs=bool(changes)) as app:
            if changes:
                current = set_windows(
                    app.sessions, tenant_id=tenant, changes=changes, actor=ACTOR, clock=app.clock
                )
            else:
                with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                    current = windows_of(uow)
            for name, days in asdict(current).items():
                console.print(f"{tenant}: {name} = {days}")


def _expired_table(reports: list[RetentionReport], *, dry_run: bool) -> Table:
    """What the content windows removed (or would remove), per tenant."""
    verb = "would remove" if dry_run else "removed"
    names = (
        "archived_inbox_deleted",
        "archived_deliveries_deleted",
        "raw_bodies_cleared",
        "dead_letter_bodies_cleared",
        "evidence_deleted",
        "messages_cleared",
    )
    table = Table("tenant", *(name.replace("_", " ") for name in names), title=verb)
    for report in reports:
        if report.expired is not None:
            counts = report.expired.counts
            table.add_row(report.tenant_id, *(str(counts[name]) for name in names))
    return table


def _table(reports: list[RetentionReport], *, dry_run: bool) -> Table:
    verb = "would move" if dry_run else "moved"
    table = Table(
        "tenant",
        "window",
        "cutoff",
        f"inbox {verb}",
        f"deliveries {verb}",
        "inbox kept past window",
        "oldest inbox kept",
        "oldest delivery kept",
    )
    for report in reports:
        table.add_row(
            report.tenant_id,
            f"{report.window_days} days",
            _when(report.cutoff),
            str(report.inbox_moved),
            str(report.deliveries_moved),
            str(report.inbox_kept_past_window),
            _when(report.oldest_inbox_kept),
            _when(report.oldest_delivery_kept),
        )
    return table


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at is not None else "-"
