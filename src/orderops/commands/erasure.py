"""`orderops customers erase`: a data subject's personal data out of every table (GDPR
art. 17).

The subject is named by ``--customer`` (the desk's customer id) or ``--email``; the
reason is required and recorded (scrubbed of the subject's identifiers). A legal hold (an
open fraud, refund or duplicate-charge case, or an action in flight, on their orders)
refuses the erasure with exit code 1 and the cases that hold it; ``--dry-run`` shows what
would change, holds included, and changes nothing. See docs/RETENTION.md.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands.shared import (
    ActorOpt,
    AppFactory,
    JsonOpt,
    TenantOpt,
    command_group,
    default_app,
    opened_app,
    print_json,
)


def register(cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add ``customers erase`` to ``cli``; tests pass a factory for their own app."""
    factory = app_factory or default_app
    group = command_group(cli, "customers", "The retailer's customers as data subjects.")
    console = Console(width=160)

    @group.command("erase")
    def erase(
        tenant: TenantOpt,
        reason: Annotated[
            str, typer.Option(help="Why (recorded): e.g. 'art. 17 request, ticket 4411'.")
        ],
        customer: Annotated[
            str | None, typer.Option("--customer", help="The customer's id at the desk.")
        ] = None,
        email: Annotated[
            str | None, typer.Option("--email", help="The subject's email address.")
        ] = None,
        actor: ActorOpt = "cli",
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
        ] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Erase a customer's personal data everywhere (audited; refused under a legal
        hold; running it again changes nothing more)."""
        from orderops.evidence.service import default_store
        from orderops.workflow.erasure import erase_customer

        if bool(customer) == bool(email):
            console.print("[red]error:[/red] name the subject with --customer or --email")
            raise typer.Exit(2)
        with opened_app(factory, console, tenant=tenant, signs=not dry_run) as app:
            report = erase_customer(
                app.sessions,
                tenant_id=tenant,
                actor=actor,
                reason=reason,
                clock=app.clock,
                customer_id=customer,
                email=email,
                evidence=default_store(app.settings),
                dry_run=dry_run,
            )
        if as_json:
            print_json(report)
            return
        table = Table("table.column", "rows " + ("that would change" if dry_run else "changed"))
        for name, count in report.counts.items():
            table.add_row(name, str(count))
        console.print(table)
        for hold in report.holds:
            console.print(f"[yellow]legal hold:[/yellow] {hold}")
        if report.legacy_audit_records:
            console.print(
                f"[yellow]kept:[/yellow] {report.legacy_audit_records} audit records hashed "
                "before migration 0038 name the subject and cannot be redacted"
            )
        if not dry_run:
            console.print(
                f"erased: customers {', '.join(report.customer_ids) or '(none on file)'}; "
                f"audit record {report.audit_seq}"
            )
