"""`orderops inbox lag [--tenant T] [--json]`: the processing lag from a terminal.

The figures /metrics exports (``workflow/lag.py``), for an operator on the host when
the scraper is not there, or a script (``--json``). Without ``--tenant`` every tenant,
one row each, tenants with nothing waiting included.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands.shared import AppFactory, command_group, default_app, require_tenant

if TYPE_CHECKING:
    from orderops.workflow.lag import TenantLag

console = Console()


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add ``inbox lag`` to ``cli`` (the ``inbox`` group, shared with other modules)."""
    inbox_cli = command_group(cli, "inbox", "The inbox of accepted events.")

    @inbox_cli.command("lag")
    def lag(
        tenant: Annotated[
            str | None, typer.Option("--tenant", "-t", help="One tenant (default: all).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
    ) -> None:
        """Events waiting per tenant (pending, deferred, failed), the age of the oldest
        pending one, and the writebacks due."""
        from orderops.workflow.lag import inbox_lag

        app = make_app()
        try:
            if tenant is not None:
                require_tenant(app, tenant)
            now = app.clock.now()
            lags = inbox_lag(app.sessions, now=now, tenant_id=tenant)
        finally:
            app.close()
        if tenant is not None and not lags:
            console.print(f"no tenant {tenant!r}", style="red", highlight=False)
            raise typer.Exit(1)
        if as_json:
            document = {"measured_at": now.isoformat(), "tenants": [x.as_json() for x in lags]}
            typer.echo(json.dumps(document, indent=2))
            return
        console.print(_table(lags))


def _table(lags: list[TenantLag]) -> Table:
    table = Table(
        "tenant",
        "pending",
        "deferred",
        "failed",
        "oldest pending (s)",
        "outbox due",
        "oldest due (s)",
        title="Processing lag",
    )
    for lag in lags:
        table.add_row(
            lag.tenant_id,
            str(lag.pending),
            str(lag.deferred),
            str(lag.failed),
            _seconds(lag.oldest_pending_age_seconds),
            str(lag.outbox_due),
            _seconds(lag.oldest_due_age_seconds),
        )
    return table


def _seconds(age: float | None) -> str:
    return "-" if age is None else f"{age:.0f}"
