"""`orderops mcp serve` (the agents' tool API) and `orderops agents limits set|show`.

``mcp serve --tenant T`` speaks MCP over stdio with the key in ``ORDEROPS_API_KEY`` (it
must be one of T's keys, and works only while it is valid: every call checks it again);
``--http`` serves the same tools at ``http://HOST:PORT/mcp`` with each request's bearer
key instead. ``agents limits`` sets and shows the money a key may propose per action and
per UTC day (in minor units), audited.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

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

if TYPE_CHECKING:
    from orderops.agent_tools.limits import KeyLimits
    from orderops.bootstrap import App

KeyOpt = Annotated[
    str, typer.Option("--key", help="The key's prefix, as `tenant key list` shows it.")
]
Minor = Annotated[int, typer.Option(min=0, max=10**12, help="Minor units (cents).")]


def register(cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    factory = app_factory or default_app
    console = Console(width=160, stderr=True)
    mcp = command_group(cli, "mcp", "The tool API for AI agents (Model Context Protocol).")
    agents = command_group(cli, "agents", "AI agents' keys: their money limits.")
    limits = typer.Typer(no_args_is_help=True, help="Money a key may propose.")
    agents.add_typer(limits, name="limits")

    def opened(tenant: str, *, signs: bool) -> AbstractContextManager[App]:
        return opened_app(factory, console, tenant=tenant, signs=signs)

    @mcp.command("serve")
    def serve(
        tenant: Annotated[
            str | None, typer.Option("--tenant", "-t", help="Tenant id (stdio).")
        ] = None,
        http: Annotated[bool, typer.Option("--http", help="Streamable HTTP at /mcp.")] = False,
        host: Annotated[str, typer.Option(help="Address for --http.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535, help="Port for --http.")] = 8765,
    ) -> None:
        """Serve the tools: over stdio for one tenant (key in ORDEROPS_API_KEY), or --http."""
        if http:
            _serve_http(factory, console, host=host, port=port)
            return
        if tenant is None:
            raise typer.BadParameter("--tenant is required for stdio (or use --http)")
        secret = os.environ.get("ORDEROPS_API_KEY", "").strip()
        with opened(tenant, signs=True) as app:  # an unknown tenant is refused first
            if not secret:
                console.print("[red]error:[/red] set ORDEROPS_API_KEY to one of the tenant's keys")
                raise typer.Exit(2)
            from orderops.agent_tools.calls import ToolDesk, authenticated
            from orderops.agent_tools.server import build_server
            from orderops.api.rate_limits import limiter_for
            from orderops.evidence.service import default_store

            desk = ToolDesk(
                app=app,
                limiter=limiter_for(app),
                evidence=default_store(app.settings),
                tenant_id=tenant,
            )
            authenticated(desk, secret)  # a bad key stops here, not at the first call
            build_server(desk, key=secret).run("stdio")

    @limits.command("set")
    def set_(
        tenant: TenantOpt,
        key: KeyOpt,
        per_action: Annotated[
            int, typer.Option("--per-action", min=0, max=10**12, help="Minor units per proposal.")
        ],
        per_day: Annotated[
            int, typer.Option("--per-day", min=0, max=10**12, help="Minor units per UTC day.")
        ],
        actor: ActorOpt = "cli",
        as_json: JsonOpt = False,
    ) -> None:
        """Set the money one proposal and one day's proposals of the key may move."""
        from orderops.agent_tools.limits import set_limits

        with opened(tenant, signs=True) as app:
            found = set_limits(
                app.sessions,
                tenant_id=tenant,
                key_prefix=key,
                per_action_minor=per_action,
                per_day_minor=per_day,
                actor=actor,
                clock=app.clock,
            )
        _show(found, as_json=as_json)

    @limits.command("show")
    def show(tenant: TenantOpt, key: KeyOpt, as_json: JsonOpt = False) -> None:
        """The key's money limits and what it proposed today."""
        from orderops.agent_tools.limits import show_limits

        with opened(tenant, signs=False) as app:
            found = show_limits(app.sessions, tenant_id=tenant, key_prefix=key, clock=app.clock)
        _show(found, as_json=as_json)


def _show(found: KeyLimits | None, *, as_json: bool) -> None:
    body = None if found is None else found.as_json()
    if as_json:
        print_json(body)
    elif body is None:
        typer.echo("no money limits: the key proposes nothing that moves money")
    else:
        typer.echo(" ".join(f"{k}={v}" for k, v in body.items()))


def _serve_http(factory: AppFactory, console: Console, *, host: str, port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Route

    from orderops.agent_tools.http import METHODS, PATH, endpoint_for
    from orderops.api.rate_limits import limiter_for

    with opened_app(factory, console, signs=True) as app:
        endpoint = endpoint_for(app, limiter=limiter_for(app))
        web = Starlette(routes=[Route(PATH, endpoint, methods=METHODS)])
        uvicorn.run(web, host=host, port=port, log_level="warning")
