"""What every command group shares: the app it runs against, its option types, and how
two modules add commands to one group (``eval`` has several authors)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from orderops.commands.errors import PLACEHOLDER_SECRET, SetupProblem
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
    """The desk on the configured database; imported on call, as the CLI must start fast.

    A command that only reads runs with the placeholder secret key too; one that signs
    refuses it up front (``require_secret_key``), and one that forgets cannot write an audit
    record keyed by it: the app's audit key refuses to sign (commands/setup_checks.py)."""
    from orderops.commands.setup_checks import cli_app

    return cli_app()


def command_group(cli: typer.Typer, name: str, help_text: str) -> typer.Typer:
    """The ``name`` group of ``cli``, created if no other module registered it first."""
    for info in cli.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    group = typer.Typer(no_args_is_help=True, help=help_text)
    cli.add_typer(group, name=name)
    return group


@contextmanager
def opened_app(
    make_app: AppFactory, console: Console, *, tenant: str | None = None, signs: bool = False
) -> Iterator[App]:
    """The app for one command, closed after it. A refusal (``OrderOpsError``) is one red
    line and exit code 1, not a traceback: it is the user's input, not a bug. Given a
    ``tenant``, it must exist; ``signs``: the command signs, verifies or issues secrets, so
    the placeholder secret key is refused (both exit 2, before the command does anything)."""
    app = make_app()
    try:
        if signs:
            require_secret_key(app)
        if tenant is not None:
            require_tenant(app, tenant)
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


def require_secret_key(app: App) -> None:
    """Refuse the demo placeholder secret key outside demo mode (a configuration error, exit
    2), before a command that signs, verifies, seals or issues a secret does anything: what
    it signed would be forgeable by anyone who read the source."""
    from orderops.config import DEMO_SECRET

    if app.settings.secret_key == DEMO_SECRET and not app.settings.demo_mode:
        raise SetupProblem(PLACEHOLDER_SECRET)


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
