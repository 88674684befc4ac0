"""`orderops sources ...`: connect a provider, list, rotate its secret, disconnect.

Each command prints what the operator must paste into the provider's dashboard: the
exact webhook URL and, only when OrderOps generated it, the signing secret (shown once;
it is stored encrypted and cannot be displayed again).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orderops.commands.shared import JsonOpt, opened_app, print_json
from orderops.ingest.webhook_sources import WebhookSource

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.ingest.connections import SecretChange

# ``orderops.ingest.connections`` (storage, cryptography) is imported inside each command,
# so that `orderops --help` does not load it.

AppFactory = Callable[[], "App"]

TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")]
SourceOpt = Annotated[WebhookSource, typer.Option("--source", "-s", help="Provider.")]
SecretOpt = Annotated[
    str | None,
    typer.Option(
        "--secret",
        envvar="ORDEROPS_WEBHOOK_SECRET",
        help="The provider's signing secret (or set ORDEROPS_WEBHOOK_SECRET to keep it out "
        "of shell history). Omit to generate one.",
    ),
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="Public base URL providers call; default http://{ORDEROPS_HOST}:{ORDEROPS_PORT}.",
    ),
]
ACTOR = "cli"


def _default_app() -> App:
    from orderops.bootstrap import bootstrap
    from orderops.config import Settings

    return bootstrap(Settings())


def register(cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add the ``sources`` group to ``cli``; tests pass a factory for their own app."""
    factory = app_factory or _default_app
    group = typer.Typer(no_args_is_help=True, help="Webhook sources: URLs and signing secrets.")
    cli.add_typer(group, name="sources")
    console = Console()

    def opened(tenant: str) -> AbstractContextManager[App]:
        """Strict settings refuse the placeholder secret key; the tenant must exist."""
        return opened_app(factory, console, tenant=tenant)

    def base(app: App, base_url: str | None) -> str:
        return base_url or f"http://{app.settings.host}:{app.settings.port}"

    def show(change: SecretChange, base_url: str, verb: str) -> None:
        connection = change.connection
        console.print(f"{connection.source} {verb} for tenant {connection.tenant_id}")
        console.print(f"webhook URL: {connection.url(base_url)}", soft_wrap=True)
        if change.generated_secret is not None:
            console.print(f"signing secret (shown once): {change.generated_secret}", soft_wrap=True)
        else:
            console.print("signing secret: the one you supplied (stored encrypted)")

    @group.command("connect")
    def connect(
        tenant: TenantOpt, source: SourceOpt, secret: SecretOpt = None, base_url: BaseUrlOpt = None
    ) -> None:
        """Connect a provider and print the URL to paste into its webhook settings."""
        from orderops.ingest.connections import SecretBox, connect_source

        with opened(tenant) as app:
            change = connect_source(
                app.sessions,
                tenant_id=tenant,
                source=source,
                box=SecretBox(app.settings.secret_key),
                clock=app.clock,
                actor=ACTOR,
                secret=secret,
            )
            show(change, base(app, base_url), "connected")

    @group.command("rotate")
    def rotate(
        tenant: TenantOpt,
        source: SourceOpt,
        secret: SecretOpt = None,
        base_url: BaseUrlOpt = None,
        overlap: Annotated[
            str | None,
            typer.Option(
                help="How long deliveries signed with the old secret still verify, e.g. 24h "
                "or 0 (a leaked secret). Default: ORDEROPS_WEBHOOK_SECRET_OVERLAP_HOURS (24h).",
            ),
        ] = None,
    ) -> None:
        """Replace the signing secret; the old one still verifies until the overlap ends."""
        from datetime import timedelta

        from orderops.domain.durations import parse_duration
        from orderops.ingest.connections import SecretBox, rotate_secret

        with opened(tenant) as app:
            window = (
                parse_duration(overlap)
                if overlap is not None
                else timedelta(hours=app.settings.webhook_secret_overlap_hours)
            )
            change = rotate_secret(
                app.sessions,
                tenant_id=tenant,
                source=source,
                box=SecretBox(app.settings.secret_key),
                clock=app.clock,
                actor=ACTOR,
                secret=secret,
                overlap=window,
            )
            show(change, base(app, base_url), "secret rotated")
            until = change.connection.previous_secret_until
            if until is None:
                console.print("the old secret no longer verifies")
            else:
                console.print(
                    f"the old secret still verifies until {until.isoformat(timespec='seconds')}"
                )

    @group.command("disconnect")
    def disconnect(tenant: TenantOpt, source: SourceOpt) -> None:
        """Stop accepting this provider's deliveries (its URL answers 404 from now on)."""
        from orderops.ingest.connections import disconnect_source

        with opened(tenant) as app:
            info = disconnect_source(
                app.sessions, tenant_id=tenant, source=source, clock=app.clock, actor=ACTOR
            )
            console.print(f"{info.source} disconnected for tenant {info.tenant_id}")

    @group.command("list")
    def list_(tenant: TenantOpt, base_url: BaseUrlOpt = None, json_: JsonOpt = False) -> None:
        """Connected providers with their URLs (never their secrets), one per line so a URL
        is never cut to fit the terminal."""
        from orderops.ingest.connections import list_connections

        with opened(tenant) as app:
            connections = list_connections(app.sessions, tenant_id=tenant)
            if json_:
                items = [
                    {
                        "source": str(info.source),
                        "enabled": info.enabled,
                        "url": info.url(base(app, base_url)) if info.enabled else None,
                        "created_at": info.created_at,
                        "rotated_at": info.rotated_at,
                        "previous_secret_until": info.previous_secret_until,
                    }
                    for info in connections
                ]
                print_json({"items": items})
                return
            if not connections:
                console.print(f"no sources connected for tenant {tenant}")
            for info in connections:
                state = "enabled" if info.enabled else "disconnected"
                url = info.url(base(app, base_url)) if info.enabled else "-"
                rotated = info.rotated_at.isoformat(timespec="seconds") if info.rotated_at else "-"
                until = info.previous_secret_until
                old = f"  old secret until {until.isoformat(timespec='seconds')}" if until else ""
                console.print(
                    f"{info.source}  {state}  {url}  "
                    f"created {info.created_at.isoformat(timespec='seconds')}  rotated {rotated}"
                    f"{old}",
                    soft_wrap=True,
                    highlight=False,
                )
