"""`orderops retention run|status|window`: old processed events out of the hot tables.

``status`` is a dry run (what would move, and the oldest row that stays); ``run`` moves
it (``--dry-run`` prints the same figures and changes nothing); ``window`` shows or sets
how many days a tenant keeps hot. The worker also runs retention, once an hour at most.
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

    def opened() -> AbstractContextManager[App]:
        return opened_app(factory, console)

    def reports(app: App, tenant: str | None, *, dry_run: bool, batch: int) -> None:
        from orderops.storage.uow import tenant_ids
        from orderops.workflow.retention import run_retention

        tenants = [tenant] if tenant else tenant_ids(app.sessions)
        found = [
            run_retention(app.sessions, tenant_id=t, clock=app.clock, batch=batch, dry_run=dry_run)
            for t in tenants
        ]
        console.print(_table(found, dry_run=dry_run))

    @group.command("run")
    def run(
        tenant: SomeTenantOpt = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Count what would move; change nothing.")
        ] = False,
        batch: BatchOpt = 1000,
    ) -> None:
        """Move processed rows past each tenant's window to the archive tables."""
        with opened() as app:
            reports(app, tenant, dry_run=dry_run, batch=batch)

    @group.command("status")
    def status(tenant: SomeTenantOpt = None) -> None:
        """What a run would move now, and the oldest rows that stay hot."""
        with opened() as app:
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

        with opened() as app:
            if days is None:
                with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                    console.print(f"{tenant}: {retention_window(uow)} days")
                return
            previous = set_retention_window(
                app.sessions, tenant_id=tenant, days=days, actor=ACTOR, clock=app.clock
            )
            console.print(f"{tenant}: {days} days (was {previous})")


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
