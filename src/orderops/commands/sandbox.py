"""`orderops sandbox serve`: the six vendor sandboxes as a service of their own.

The demo serves them in its own process on loopback ports (``sandbox/connected.py``); a
compose deployment runs them in a container, on fixed ports, and a worker elsewhere
reaches them by the container's name. With ``--tenant`` the command also stores that
tenant's connection to each (sealed and audited, as `orderops connections add` would),
addressed by ``--advertise``, so writebacks go to them with no vendor account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from orderops.sandbox.connected import VendorSandboxes

console = Console()

SYSTEMS = ("stripe", "shopify", "easypost", "wms", "crm", "zendesk")
"""In port order: ``--port`` is Stripe's, the next five follow."""


def register(cli: typer.Typer) -> None:
    """Add the ``sandbox`` group (serve) to ``cli``."""
    group = typer.Typer(no_args_is_help=True, help="Vendor sandboxes for trying writeback.")
    cli.add_typer(group, name="sandbox")

    @group.command("serve")
    def serve(
        host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
        port: Annotated[
            int,
            typer.Option(
                min=1, max=65530, help="Stripe's port; Shopify, EasyPost, WMS, CRM, Zendesk next."
            ),
        ] = 9101,
        tenant: Annotated[
            str | None, typer.Option(help="Store this tenant's connection to each sandbox.")
        ] = None,
        advertise: Annotated[
            str | None,
            typer.Option(help="Base URL workers reach the sandboxes at (default http://HOST)."),
        ] = None,
    ) -> None:
        """Serve the Stripe, Shopify, EasyPost, WMS, CRM and Zendesk sandboxes until stopped."""
        import asyncio

        import uvicorn

        from orderops.sandbox.connected import VendorSandboxes

        box = VendorSandboxes()
        apps = [box.stripe.app, box.shopify.app, box.easypost.app, box.wms.app]
        apps += [box.crm.app, box.zendesk.app]
        ports = {system: port + offset for offset, system in enumerate(SYSTEMS)}
        if tenant is not None:
            _connect_all(tenant, advertise or f"http://{host}", ports, box)
        servers = [
            uvicorn.Server(
                uvicorn.Config(app, host=host, port=ports[system], lifespan="off", http="h11")
            )
            for system, app in zip(SYSTEMS, apps, strict=True)
        ]
        for system in SYSTEMS:
            console.print(f"{system} sandbox on http://{host}:{ports[system]}")

        async def serve_all() -> None:
            await asyncio.gather(*(server.serve() for server in servers))

        asyncio.run(serve_all())


def _connect_all(tenant: str, base: str, ports: dict[str, int], box: VendorSandboxes) -> None:
    """The tenant's stored connection to each sandbox, at ``base``:port."""
    from orderops.bootstrap import bootstrap
    from orderops.commands.shared import require_tenant
    from orderops.config import Settings
    from orderops.domain.vendor_connections import VendorSystem
    from orderops.sandbox.connected import connect_sandbox

    secrets = {
        "stripe": (box.stripe.api_key, None),
        "shopify": (box.shopify.access_token, None),
        "easypost": (box.easypost.api_key, None),
        "wms": (box.wms.api_key, None),
        "crm": (box.crm.api_token, None),
        "zendesk": (box.zendesk.api_token, box.zendesk.email),
    }
    app = bootstrap(Settings())
    try:
        require_tenant(app, tenant)
        for system, (secret, username) in secrets.items():
            url = f"{base.rstrip('/')}:{ports[system]}"
            connect_sandbox(app, tenant, VendorSystem(system), url, secret, username)
            console.print(f"tenant {tenant}: {system} connected at {url}")
    finally:
        app.close()
