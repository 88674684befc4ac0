"""What every command group shares: the app it runs against, its option types, and how
two modules add commands to one group (``eval`` has several authors)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from orderops.commands.errors import SetupProblem
from orderops.domain.errors import OrderOpsError

if TYPE_CHECKING:
    from orderops.bootstrap import App

AppFactory = Callable[[], "App"]
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")]
ActorOpt = Annotated[str, typer.Option(help="Who decides (recorded in the audit log).")]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON (one document on stdout) instead of a table.")
]


def default_app() -> App:
    """The desk on the configured database; imported on call, as the CLI must start fast."""
    from orderops.bootstrap import bootstrap
    from orderops.config import Settings

    return bootstrap(Settings(demo_mode=True))


def command_group(cli: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The ``name`` group of ``cli``, created if no other module registered it first."""
    for info in cli.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(no_args_is_help=True, help=help_text)
    cli.add_typer(group, name=name)
    return group


@contextmanager
def opened_app(make_app: AppFactory, console: Console) -> Iterator[App]:
    """The app for one command, closed after it. A refusal (``OrderOpsError``) is one red
    line and exit code 1, not a traceback: it is the user's input, not a bug."""
    app = make_app()
    try:
        yield app
    except OrderOpsError as exc:
        console.print(f"[red]error:[/red] {exc.message}", soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        app.close()


def require_tenant(app: App, tenant_id: str) -> None:
    """Refuse a tenant that does not exist (a configuration error, exit 2): a command never
    creates one as a side effect of a typo; ``orderops tenant create`` does."""
    from orderops.storage.tables.tenancy import Tenant

    with app.sessions() as session:
        if session.get(Tenant, tenant_id) is not None:
            return
    account = tenant_id.removesuffix(".test")
    raise SetupProblem(
        f"no tenant {tenant_id!r}; create it with `orderops tenant create {account}`"
    )


def print_json(document: Any) -> None:
    """One JSON document on stdout for ``--json``: dates as ISO 8601, nothing else mixed in
    (rich's console would wrap long lines and colour keys)."""
    typer.echo(json.dumps(document, default=_jsonable, indent=2))


def _jsonable(value: Any) -> Any:
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return str(value)
