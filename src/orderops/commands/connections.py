"""`orderops connections add|list|test|rotate|remove`: a tenant's vendor accounts.

The credential is read from a hidden prompt or, with ``--secret-stdin``, from the first
line of stdin; never from an argument (an argument lands in shell history and in every
process listing). Nothing prints it back: ``list`` shows its fingerprint. Every change,
and every ``test``, is an audit record of the tenant (``writeback/vendor_connections.py``).
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orderops.commands.shared import AppFactory, JsonOpt, TenantOpt, opened_app, print_json

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.writeback.vendor_connections import ConnectionView

# Services are imported inside each command, so that `orderops --help` stays fast.

ACTOR = "cli"
SystemOpt = Annotated[
    str,
    typer.Option(
        "--system", "-s", help="stripe, shopify, easypost, wms, crm or zendesk.", show_default=False
    ),
]
ModeOpt = Annotated[
    str | None,
    typer.Option("--mode", help="test or live: required except for Stripe, whose key says which."),
]
SecretStdinOpt = Annotated[
    bool, typer.Option("--secret-stdin", help="Read the credential from stdin's first line.")
]


def _default_app() -> App:
    """The configured desk. Outside the demo the placeholder secret key is refused: a
    credential sealed with it could not be opened by a worker running with the real one."""
    from orderops.bootstrap import bootstrap
    from orderops.config import Settings

    return bootstrap(Settings())


def register(cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add the ``connections`` group to ``cli``; tests pass their own app."""
    factory = app_factory or _default_app
    console = Console()
    group = typer.Typer(
        no_args_is_help=True, help="Vendor accounts writeback uses, per tenant and environment."
    )
    cli.add_typer(group, name="connections")

    def opened(tenant: str) -> AbstractContextManager[App]:
        """Strict settings refuse the placeholder secret key; the tenant must exist."""
        return opened_app(factory, console, tenant=tenant)

    def read_secret(from_stdin: bool) -> str:
        if from_stdin:
            return sys.stdin.readline().strip()
        return str(typer.prompt("credential", hide_input=True))

    def show(view: ConnectionView) -> None:
        who = f"{view.username} " if view.username else ""
        console.print(
            f"{view.system:<9} {view.mode:<4} {who}{view.base_url}  credential "
            f"{view.fingerprint} (v{view.version})"
            + (" test mode allowed" if view.allow_test_mode else ""),
            soft_wrap=True,
        )

    @group.command("add")
    def add(
        tenant: TenantOpt,
        system: SystemOpt,
        url: Annotated[str, typer.Option("--url", help="The vendor's API base URL.")],
        mode: ModeOpt = None,
        username: Annotated[
            str | None, typer.Option(help="Zendesk: the agent's email the token belongs to.")
        ] = None,
        allow_test_mode: Annotated[
            bool,
            typer.Option(
                "--allow-test-mode", help="Let a live environment use a test-mode Stripe key."
            ),
        ] = False,
        secret_stdin: SecretStdinOpt = False,
    ) -> None:
        """Connect the tenant to a vendor account (credential sealed, audited)."""
        from orderops.domain.vendor_connections import AccountMode, parse_system
        from orderops.writeback import vendor_connections

        with opened(tenant) as app:
            chosen = parse_system(system)
            declared = _mode(mode)
            view = vendor_connections.add_connection(
                app.sessions,
                tenant_id=tenant,
                system=chosen,
                base_url=url,
                secret=read_secret(secret_stdin),
                mode=None if declared is None else AccountMode(declared),
                username=username,
                allow_test_mode=allow_test_mode,
                secret_key=app.settings.secret_key,
                clock=app.clock,
                actor=ACTOR,
            )
            console.print(f"connected tenant {tenant}:")
            show(view)

    @group.command("list")
    def list_(tenant: TenantOpt, json_: JsonOpt = False) -> None:
        """The tenant's connections: system, mode, address, credential fingerprint."""
        from orderops.writeback import vendor_connections

        with opened(tenant) as app:
            found = vendor_connections.list_connections(app.sessions, tenant_id=tenant)
            if json_:
                print_json({"items": found})  # views: never the credential
                return
            if not found:
                console.print(f"tenant {tenant} has no vendor connections")
            for view in found:
                show(view)

    @group.command("test")
    def test(tenant: TenantOpt, system: SystemOpt) -> None:
        """One harmless authenticated read against the vendor (exit 1 says why it failed)."""
        from orderops.domain.vendor_connections import parse_system
        from orderops.writeback import vendor_connections

        with opened(tenant) as app:
            result = vendor_connections.check_connection(
                app.sessions,
                tenant_id=tenant,
                system=parse_system(system),
                secret_key=app.settings.secret_key,
                clock=app.clock,
                actor=ACTOR,
            )
        if result.ok:
            console.print(f"ok: {result.detail}", soft_wrap=True)
            return
        console.print(f"[red]failed:[/red] {result.detail}", soft_wrap=True)
        raise typer.Exit(1)

    @group.command("rotate")
    def rotate(
        tenant: TenantOpt,
        system: SystemOpt,
        url: Annotated[str | None, typer.Option("--url", help="A new base URL.")] = None,
        mode: ModeOpt = None,
        secret_stdin: SecretStdinOpt = False,
    ) -> None:
        """Replace the credential; the next delivery uses it (audited)."""
        from orderops.domain.vendor_connections import AccountMode, parse_system
        from orderops.writeback import vendor_connections

        with opened(tenant) as app:
            declared = _mode(mode)
            view = vendor_connections.rotate_connection(
                app.sessions,
                tenant_id=tenant,
                system=parse_system(system),
                secret=read_secret(secret_stdin),
                mode=None if declared is None else AccountMode(declared),
                base_url=url,
                secret_key=app.settings.secret_key,
                clock=app.clock,
                actor=ACTOR,
            )
            console.print(f"rotated tenant {tenant}'s {view.system} credential:")
            show(view)

    @group.command("remove")
    def remove(
        tenant: TenantOpt,
        system: SystemOpt,
        yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    ) -> None:
        """Forget the connection; its system's messages wait until one is added again."""
        from orderops.domain.vendor_connections import parse_system
        from orderops.writeback import vendor_connections

        with opened(tenant) as app:
            chosen = parse_system(system)
            if not yes:
                typer.confirm(f"remove tenant {tenant}'s {chosen} connection?", abort=True)
            view = vendor_connections.remove_connection(
                app.sessions, tenant_id=tenant, system=chosen, clock=app.clock, actor=ACTOR
            )
            console.print(f"removed tenant {tenant}'s {view.system} connection")


def _mode(mode: str | None) -> str | None:
    from orderops.domain.vendor_connections import AccountMode, InvalidConnection

    if mode is None:
        return None
    if mode.strip().lower() not in {m.value for m in AccountMode}:
        raise InvalidConnection(f"--mode is test or live, not {mode[:20]!r}")
    return mode.strip().lower()
