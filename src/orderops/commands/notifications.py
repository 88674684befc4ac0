"""`orderops notifications policy show|set`, `orderops notifications run|bounces`: proactive
customer notices from a terminal.

Thin shells over ``workflow.notifications`` (the tenant's rule, audited like the API's
change; the actor is ``cli``) and the worker's two steps, run on demand: the notice pass
and the bounce read-back (``workflow.message_bounces``).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console

from orderops.commands.shared import (
    AppFactory,
    TenantOpt,
    default_app,
    require_secret_key,
    require_tenant,
)
from orderops.domain.errors import OrderOpsError

console = Console()
TopicsOpt = Annotated[
    str | None, typer.Option(help="Comma-separated topics to draft: delay,stock_out,address.")
]


def _topics(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [t.strip() for t in value.split(",") if t.strip()]


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add the `notifications` group to ``cli``."""
    group = typer.Typer(no_args_is_help=True, help="Proactive customer notices and bounces.")
    policy = typer.Typer(no_args_is_help=True, help="The tenant's notice rule.")
    cli.add_typer(group, name="notifications")
    group.add_typer(policy, name="policy")

    @policy.command("show")
    def show(tenant: TenantOpt) -> None:
        """Print the tenant's rule as JSON (version 0: never set, nothing proactive)."""
        from orderops.storage.uow import UnitOfWork
        from orderops.workflow.notifications import policy_of, policy_version

        app = make_app()
        try:
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                body = {**policy_of(uow).model_dump(mode="json"), "version": policy_version(uow)}
        finally:
            app.close()
        typer.echo(json.dumps(body, sort_keys=True))

    @policy.command("set")
    def set_(
        tenant: TenantOpt,
        topics: TopicsOpt = None,
        auto_approve: Annotated[
            str | None,
            typer.Option(help="Topics an explicit rule sends without a person ('' for none)."),
        ] = None,
        quiet_hours: Annotated[int | None, typer.Option(help="Hours between notices.")] = None,
        repeat_hours: Annotated[
            int | None, typer.Option(help="Hours a topic is not told twice.")
        ] = None,
    ) -> None:
        """Change the named fields of the rule; the others keep their value."""
        from orderops.domain.notifications import parse_policy
        from orderops.storage.uow import UnitOfWork
        from orderops.workflow.notifications import policy_of, set_policy

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                current = policy_of(uow).model_dump(mode="json")
                changes = {
                    "topics": _topics(topics),
                    "auto_approve": _topics(auto_approve),
                    "quiet_hours": quiet_hours,
                    "repeat_hours": repeat_hours,
                }
                wanted = parse_policy(
                    {**current, **{k: v for k, v in changes.items() if v is not None}}
                )
                version = set_policy(uow, wanted, actor="cli", now=app.clock.now())
                uow.commit()
        except OrderOpsError as exc:
            console.print(f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        finally:
            app.close()
        typer.echo(json.dumps({**wanted.model_dump(mode="json"), "version": version}))

    @group.command("run")
    def run(tenant: TenantOpt) -> None:
        """One notice pass now (the worker runs it on every full pass)."""
        from orderops.workflow.notifications import notify_customers

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            report = notify_customers(app.sessions, tenant_id=tenant, clock=app.clock)
        finally:
            app.close()
        typer.echo(
            json.dumps(
                {
                    "outcomes": report.outcomes,
                    "released": report.released,
                    "stranded": report.stranded,
                    "failed": report.failed,
                },
                sort_keys=True,
            )
        )

    @group.command("bounces")
    def bounces(tenant: TenantOpt) -> None:
        """Read back recently delivered messages now and mark the bounced ones."""
        from orderops.workflow.message_bounces import read_bounces
        from orderops.workflow.writeback_worker import runtime_for

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            report = read_bounces(
                app.sessions, runtime_for(app).connectors, tenant_id=tenant, clock=app.clock
            )
        finally:
            app.close()
        typer.echo(json.dumps(vars(report), sort_keys=True))
