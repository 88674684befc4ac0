"""`orderops audit export`, `verify-export` and `checkpoint`: audit records as JSON lines,
and signed checkpoints of a chain's head to keep outside the database.

Registered into the existing ``audit`` group (``register(audit_cli)``), next to
``audit verify`` (which takes ``--against CHECKPOINT``, see ``verify_command``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orderops.commands.shared import require_secret_key, require_tenant

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.config import Settings

# The audit services (and with them the database layer) are imported inside each command,
# so that `orderops --help` does not load them.

AppFactory = Callable[[], "App"]

TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")]


def _default_app() -> App:
    from orderops.bootstrap import bootstrap
    from orderops.config import Settings

    return bootstrap(Settings())


def _default_settings() -> Settings:
    from orderops.config import Settings

    return Settings()


def _utc(value: datetime | None) -> datetime | None:
    """Typer parses zone-less times; the CLI reads them as UTC, as every stored time is."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def checkpoint_beside(export: Path) -> Path:
    """``acme.jsonl`` → ``acme.checkpoint.json``: the checkpoint an export writes."""
    return export.with_name(f"{export.stem}.checkpoint.json")


def verify_command(app: App, tenant: str, against: Path | None) -> tuple[bool, str]:
    """``audit verify``: the chain alone, or also against a checkpoint kept outside."""
    from orderops.audit.checkpoints import CheckpointError, parse, verify_against
    from orderops.audit.verify import verify_tenant

    if against is None:
        result = verify_tenant(app.sessions, tenant_id=tenant)
        suffix = ""
    else:
        try:
            checkpoint = parse(against.read_text("utf-8"))
        except (OSError, CheckpointError) as exc:
            return False, f"cannot use {against}: {exc}"
        result = verify_against(app.sessions, tenant_id=tenant, checkpoint=checkpoint)
        suffix = f"; checkpoint at seq {checkpoint.seq} holds"
    if result.ok:
        return True, f"audit chain of {tenant} verifies: {result.checked} records{suffix}"
    where = f" at seq {result.bad_seq}" if result.bad_seq is not None else ""
    return False, f"audit chain of {tenant} BROKEN{where}: {result.problem}"


def register(
    audit: typer.Typer,
    *,
    app_factory: AppFactory | None = None,
    settings_factory: Callable[[], Settings] | None = None,
) -> None:
    """Add ``export``, ``verify-export`` and ``checkpoint`` to the ``audit`` group."""
    factory = app_factory or _default_app
    settings_of = settings_factory or _default_settings
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
        """Write audit records as verifiable JSON lines, and a signed checkpoint of the head
        beside them (``<name>.checkpoint.json``); exit 1 if the stored chain is broken."""
        from orderops.audit.checkpoints import sign
        from orderops.audit.export import ExportFilter, export_audit
        from orderops.audit.keys import audit_key_from

        app = factory()
        try:
            require_secret_key(app)  # the checkpoint beside the export is signed with it
            require_tenant(app, tenant)
            with out.open("w", encoding="utf-8") as handle:
                summary = export_audit(
                    app.sessions,
                    tenant_id=tenant,
                    where=ExportFilter(case_id=case, since=_utc(since), until=_utc(until)),
                    out=handle,
                    now=app.clock.now(),
                )
            key = audit_key_from(app.settings)
            now = app.clock.now()
        finally:
            app.close()
        console.print(f"{summary.records} records of {tenant} -> {out}")
        if not summary.chain_verified:
            console.print(f"the stored chain is BROKEN: {summary.chain_problem}", style="bold red")
            raise typer.Exit(1)
        beside = checkpoint_beside(out)
        signed = sign(
            key,
            tenant=tenant,
            seq=summary.head_seq,
            head_hash=summary.head_hash or "0" * 64,
            at=now,
        )
        beside.write_text(signed.to_json(), "utf-8")
        console.print(f"checkpoint at seq {signed.seq} -> {beside}")

    @audit.command("checkpoint")
    def checkpoint(
        tenant: TenantOpt,
        out: Annotated[Path, typer.Option("--out", "-o", help="JSON file to write.")],
    ) -> None:
        """Sign the chain's current head; keep the file outside the database, and check the
        chain later with ``audit verify --against``. Exit 1 if the chain does not verify."""
        from orderops.audit.checkpoints import CheckpointError, take_checkpoint

        app = factory()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            signed = take_checkpoint(app.sessions, tenant_id=tenant, now=app.clock.now())
        except CheckpointError as exc:
            console.print(str(exc), style="bold red")
            raise typer.Exit(1) from exc
        finally:
            app.close()
        out.write_text(signed.to_json(), "utf-8")
        console.print(f"checkpoint of {tenant} at seq {signed.seq} -> {out}")

    @audit.command("verify-export")
    def verify(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="An export file.")],
    ) -> None:
        """Check an export without the database (the audit key comes from the settings):
        record hashes, links, and its record count."""
        from orderops.audit.export import verify_export
        from orderops.audit.keys import audit_key_from

        key = audit_key_from(settings_of())
        with file.open(encoding="utf-8") as handle:
            check = verify_export(handle, key=key)
        if check.ok:
            console.print(f"{file}: {check.records} records verify")
            return
        console.print(f"{file}: {check.problem}", style="bold red")
        raise typer.Exit(1)
