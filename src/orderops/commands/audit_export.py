"""`orderops audit export` and `orderops audit verify-export`: audit records as JSON lines.

Registered into the existing ``audit`` group (``register(audit_cli)``), next to
``audit verify``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from orderops.audit.export import ExportFilter, export_audit, verify_export
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings

AppFactory = Callable[[], App]

TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")]


def _default_app() -> App:
    return bootstrap(Settings())


def _utc(value: datetime | None) -> datetime | None:
    """Typer parses zone-less times; the CLI reads them as UTC, as every stored time is."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def register(audit: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add ``export`` and ``verify-export`` to the ``audit`` group."""
    factory = app_factory or _default_app
    console = Console(stderr=True)

    @audit.command("export")
    def export(
        tenant: TenantOpt,
        out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write.")],
        case: Annotated[
            str | None, typer.Option("--case", help="Only this case's records.")
        ] = None,
        since: Annotated[
            datetime | None, typer.Option(help="Records at or after this time (UTC).")
        ] = None,
        until: Annotated[
            datetime | None, typer.Option(help="Records before this time (UTC).")
        ] = None,
    ) -> None:
        """Write audit records as verifiable JSON lines; exit 1 if the stored chain is broken."""
        app = factory()
        try:
            with out.open("w", encoding="utf-8") as handle:
                summary = export_audit(
                    app.sessions,
                    tenant_id=tenant,
                    where=ExportFilter(case_id=case, since=_utc(since), until=_utc(until)),
                    out=handle,
                    now=app.clock.now(),
                )
        finally:
            app.close()
        console.print(f"{summary.records} records of {tenant} -> {out}")
        if not summary.chain_verified:
            console.print(f"the stored chain is BROKEN: {summary.chain_problem}", style="bold red")
            raise typer.Exit(1)

    @audit.command("verify-export")
    def verify(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An export file.")],
    ) -> None:
        """Check an export on its own: record hashes, links, and its record count."""
        with file.open(encoding="utf-8") as handle:
            check = verify_export(handle)
        if check.ok:
            console.print(f"{file}: {check.records} records verify")
            return
        console.print(f"{file}: {check.problem}", style="bold red")
        raise typer.Exit(1)
