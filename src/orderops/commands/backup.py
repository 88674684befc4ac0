"""`orderops backup` and `orderops restore`: thin shells over ``storage.backup``.

Both work on the owner's URL (``ORDEROPS_MIGRATION_DATABASE_URL``, else
``ORDEROPS_DATABASE_URL``): on PostgreSQL the app role reads no rows under row-level
security, so a dump made as it would be empty. Neither needs the secret key.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from orderops.config import Settings

console = Console()

ForceOpt = Annotated[bool, typer.Option("--force", help="Replace what is there.")]


def default_url() -> str:
    """The owner's URL from the environment; the secret key is not needed to copy bytes."""
    from orderops.config import Settings

    settings: Settings = Settings(demo_mode=True)
    return settings.resolved_migration_database_url


def register(cli: typer.Typer, *, database_url: Callable[[], str] = default_url) -> None:
    """Add `backup` and `restore` to ``cli``."""

    @cli.command("backup")
    def backup_command(
        destination: Annotated[Path, typer.Argument(help="File to write the backup to.")],
        force: ForceOpt = False,
    ) -> None:
        """Copy the database to a file while the desk runs (SQLite: the online backup API;
        PostgreSQL: pg_dump's custom format, pg_dump on PATH)."""
        from orderops.domain.errors import OrderOpsError
        from orderops.storage.backup import backup

        try:
            result = backup(database_url(), destination, force=force)
        except OrderOpsError as exc:
            console.print(f"[red]error:[/red] {exc.message}", soft_wrap=True)
            raise typer.Exit(1) from exc
        console.print(f"{result.backend} backup written to {result.path} ({result.bytes} bytes)")

    @cli.command("restore")
    def restore_command(
        source: Annotated[
            Path, typer.Argument(exists=True, dir_okay=False, help="A file `backup` wrote.")
        ],
        force: Annotated[
            bool, typer.Option("--force", help="Overwrite a database that has a schema.")
        ] = False,
    ) -> None:
        """Replace the database with a backup. Stop the API and workers first; then run
        `orderops audit verify` for each tenant."""
        from orderops.domain.errors import OrderOpsError
        from orderops.storage.backup import restore

        try:
            backend = restore(database_url(), source, force=force)
        except OrderOpsError as exc:
            console.print(f"[red]error:[/red] {exc.message}", soft_wrap=True)
            raise typer.Exit(1) from exc
        console.print(f"{backend} database restored from {source}")
