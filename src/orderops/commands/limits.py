"""`orderops tenant limits show|set|clear`: a tenant's rate limits (docs/RATE_LIMITS.md).

``show`` prints every limit the tenant is held to and whether it is the configured default
or the tenant's own; ``set`` gives it its own for one scope and partition, ``clear`` returns
it to the default. Both are audited; every API process applies the change within
``OVERRIDE_TTL`` (10 s).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands.shared import ActorOpt, AppFactory, TenantOpt, default_app, opened_app
from orderops.domain.rate_limits import RatePartition, RateScope

if TYPE_CHECKING:
    from orderops.bootstrap import App

ScopeOpt = Annotated[
    RateScope, typer.Option("--scope", help="ingest (webhooks, POST /v1/events) or api.")
]
PerOpt = Annotated[
    RatePartition, typer.Option("--per", help="The tenant as a whole, or each of its keys.")
]
RateOpt = Annotated[str, typer.Option("--rate", help="e.g. '100/second', '6000 per 10 seconds'.")]


def register(tenant_cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add the ``limits`` group under ``orderops tenant``; tests pass a factory of their own."""
    factory = app_factory or default_app
    group = typer.Typer(no_args_is_help=True, help="A tenant's rate limits.")
    tenant_cli.add_typer(group, name="limits")
    console = Console(width=160)

    def opened(tenant: str | None, *, signs: bool) -> AbstractContextManager[App]:
        return opened_app(factory, console, tenant=tenant, signs=signs)

    @group.command("show")
    def show(tenant: TenantOpt) -> None:
        """Every limit the tenant is held to, and whether it is its own or the default."""
        from orderops.tenancy.tenant_rate_limits import default_quotas, effective_limits

        with opened(tenant, signs=False) as app:
            limits = effective_limits(
                app.sessions, tenant_id=tenant, defaults=default_quotas(app.settings)
            )
        table = Table("scope", "per", "limit", "source", title=f"rate limits of {tenant}")
        for found in limits:
            limit = found.limit
            source = "tenant" if found.overridden else "default"
            table.add_row(str(limit.scope), str(limit.partition), str(limit.quota), source)
        console.print(table)

    @group.command("set")
    def set_(
        tenant: TenantOpt, scope: ScopeOpt, per: PerOpt, rate: RateOpt, actor: ActorOpt = "cli"
    ) -> None:
        """Give the tenant its own limit for one scope and partition (audited)."""
        from orderops.tenancy.tenant_rate_limits import quota_of, set_tenant_limit

        with opened(tenant, signs=True) as app:
            quota = quota_of(rate)
            previous = set_tenant_limit(
                app.sessions,
                tenant_id=tenant,
                scope=scope,
                partition=per,
                quota=quota,
                actor=actor,
                clock=app.clock,
            )
        was = str(previous) if previous else "the default"
        console.print(f"{tenant}: {scope} per {per} is {quota} (was {was})")

    @group.command("clear")
    def clear(tenant: TenantOpt, scope: ScopeOpt, per: PerOpt, actor: ActorOpt = "cli") -> None:
        """Return the tenant to the configured default for one scope and partition."""
        from orderops.tenancy.tenant_rate_limits import clear_tenant_limit

        with opened(tenant, signs=True) as app:
            previous = clear_tenant_limit(
                app.sessions,
                tenant_id=tenant,
                scope=scope,
                partition=per,
                actor=actor,
                clock=app.clock,
            )
        if previous is None:
            console.print(f"{tenant}: {scope} per {per} already follows the default")
        else:
            console.print(f"{tenant}: {scope} per {per} follows the default (was {previous})")
