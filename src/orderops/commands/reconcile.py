"""`orderops reconcile`: read back what the desk delivered, and report where vendors disagree.

A thin shell over ``workflow.reconciliation``, the same call the worker makes once a day.
Prints the counts (checked, agreed, disagreed, could not check) and each disagreement with
the case it opened; ``--json`` prints the report as one JSON object. Exit 0 whatever was
found: a disagreement is a case for a person, not a failure of the command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orderops.commands.shared import (
    AppFactory,
    TenantOpt,
    default_app,
    require_secret_key,
    require_tenant,
)

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.writeback.connections import ConnectorPool

console = Console()
PoolFactory = Callable[["App"], "ConnectorPool"]


def _runtime_pool(app: App) -> ConnectorPool:
    from orderops.workflow.writeback_worker import runtime_for

    return runtime_for(app).connectors


def register(
    cli: typer.Typer,
    *,
    make_app: AppFactory = default_app,
    make_pool: PoolFactory = _runtime_pool,
) -> None:
    """Add `reconcile` to ``cli``."""

    @cli.command("reconcile")
    def reconcile_(
        tenant: TenantOpt,
        days: Annotated[
            int | None,
            typer.Option(min=1, max=90, help="Delivered effects of the last N days (default 7)."),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ) -> None:
        """Read back every effect delivered in the last N days; open a case per disagreement."""
        from orderops.workflow.reconciliation import reconcile

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            report = reconcile(
                app.sessions,
                make_pool(app),
                tenant_id=tenant,
                clock=app.clock,
                days=days,
                actor="cli",
            )
        finally:
            app.close()
        if as_json:
            typer.echo(json.dumps(report.as_json(), sort_keys=True))
            return
        console.print(
            f"checked {report.checked}  agreed {report.agreed}  disagreed {report.disagreed}"
            f"  could not check {report.unchecked}  (last {report.days} days)",
            highlight=False,
        )
        for m in report.mismatches:
            seen = "new" if m.new else "already reported"
            console.print(
                f"{m.system}.{m.operation} {m.vendor_ref}  order {m.order_ref}  {m.kind}"
                f"  case {m.case_id}  ({seen})\n  {m.sentence}",
                highlight=False,
                soft_wrap=True,
            )
        for u in report.could_not_check:
            console.print(f"could not check {u['outbox_id']}: {u['reason']}", highlight=False)
