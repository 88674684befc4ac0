"""`orderops usage`: what a tenant used (a table, JSON or the invoice CSV), and its quotas.

``orderops usage --tenant T [--from D --to D] [--json|--csv]`` reports the days asked for
(default: this month so far); ``orderops usage quota set|show`` manages the monthly
limits per meter (``domain/usage.py``). Quota changes are audited as the given actor.
"""

from __future__ import annotations

import json
import sys
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands.shared import ActorOpt, AppFactory, TenantOpt, default_app, opened_app
from orderops.domain.usage import UNITS, Meter

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.domain.usage import QuotaStatus
    from orderops.metering.usage_report import UsageReport

DAY_FORMATS = ["%Y-%m-%d"]
SomeTenantOpt = Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant id.")]
FromOpt = Annotated[
    datetime | None,
    typer.Option("--from", formats=DAY_FORMATS, help="First day (default: the 1st)."),
]
ToOpt = Annotated[
    datetime | None, typer.Option("--to", formats=DAY_FORMATS, help="Last day (default: today).")
]
MeterOpt = Annotated[Meter, typer.Option("--meter", "-m", help="What the quota limits.")]
LimitOpt = Annotated[int | None, typer.Option(min=0, help="Monthly limit, in the meter's unit.")]


def register(cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add the ``usage`` group to ``cli``; tests pass a factory for their own app."""
    factory = app_factory or default_app
    group = typer.Typer(
        help="Usage per tenant, day, meter and dimension; quotas.", invoke_without_command=True
    )
    quota = typer.Typer(no_args_is_help=True, help="Monthly quotas (soft: warn; hard: refuse).")
    group.add_typer(quota, name="quota")
    cli.add_typer(group, name="usage")
    console = Console(width=160)

    def opened(tenant: str | None, *, signs: bool) -> AbstractContextManager[App]:
        return opened_app(factory, console, tenant=tenant, signs=signs)

    @group.callback()
    def report(
        ctx: typer.Context,
        tenant: SomeTenantOpt = None,
        account: Annotated[
            str | None,
            typer.Option("--account", help="Every environment of the account (live, test)."),
        ] = None,
        first: FromOpt = None,
        last: ToOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="The report as JSON.")] = False,
        as_csv: Annotated[
            bool, typer.Option("--csv", help="The invoice export: one row per counter.")
        ] = False,
    ) -> None:
        """Report a tenant's usage (this month so far unless --from/--to say otherwise)."""
        if ctx.invoked_subcommand is not None:
            return
        if (tenant is None) == (account is None):
            raise typer.BadParameter(
                "which tenant? (--tenant, or --account for all its environments)"
            )
        if as_json and as_csv:
            raise typer.BadParameter("--json or --csv, not both")
        from orderops.domain.usage import Period
        from orderops.metering.usage_report import account_tenants, csv_text, usage_report

        with opened(tenant, signs=False) as app:
            now = app.clock.now()
            period = Period.of(_day(first), _day(last), today=now.date())
            tenants = (
                [tenant] if tenant is not None else account_tenants(app.sessions, account or "")
            )
            found = usage_report(app.sessions, tenants, period=period, now=now)
        name = tenant or f"account {account}"
        if as_csv:
            sys.stdout.write(csv_text(found.rows))
        elif as_json:
            sys.stdout.write(json.dumps({"tenants": tenants, **found.as_json()}, indent=2) + "\n")
        else:
            _print_report(console, name, found)

    @quota.command("set")
    def quota_set(
        tenant: TenantOpt,
        meter: MeterOpt,
        soft: LimitOpt = None,
        hard: LimitOpt = None,
        remove: Annotated[bool, typer.Option("--remove", help="No limit on this meter.")] = False,
        actor: ActorOpt = "cli",
    ) -> None:
        """Set the tenant's monthly soft and/or hard limit on one meter (audited)."""
        from orderops.domain.usage import Quota
        from orderops.metering.usage_report import set_quota

        if remove == (soft is not None or hard is not None):
            raise typer.BadParameter("give --soft and/or --hard, or --remove")
        with opened(tenant, signs=True) as app:
            before = set_quota(
                app.sessions,
                tenant_id=tenant,
                quota=Quota(meter, soft, hard),
                actor=actor,
                clock=app.clock,
            )
        was = "none" if before is None else _limits(before.soft, before.hard)
        now = "removed" if remove else _limits(soft, hard)
        console.print(f"{tenant} {meter} ({UNITS[meter]}s a month): {now} (was {was})")

    @quota.command("show")
    def quota_show(tenant: TenantOpt) -> None:
        """The tenant's quotas with this month's use against them."""
        from orderops.metering.usage_report import quota_report

        with opened(tenant, signs=False) as app:
            statuses = quota_report(app.sessions, tenant_id=tenant, now=app.clock.now())
        if not statuses:
            console.print(f"{tenant} has no quotas: nothing is limited.")
            return
        console.print(_quota_table(statuses))


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _limit(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _limits(soft: int | None, hard: int | None) -> str:
    return f"soft {_limit(soft)}, hard {_limit(hard)}"


def _print_report(console: Console, name: str, found: UsageReport) -> None:
    period = f"{found.period.first} to {found.period.last}"
    if not found.rows:
        console.print(f"{name}: no usage counted from {period}.")
    else:
        rows = Table("tenant", "day", "environment", "meter", "dimension", "quantity", "unit")
        for row in found.rows:
            rows.add_row(
                row.tenant,
                row.day,
                row.environment,
                row.meter,
                row.dimension,
                f"{row.quantity:,}",
                row.unit,
            )
        console.print(f"{name}: usage from {period}")
        console.print(rows)
        totals = Table("tenant", "meter", "total", "unit")
        for total in found.totals():
            totals.add_row(total["tenant"], total["meter"], f"{total['quantity']:,}", total["unit"])
        console.print(totals)
    for tenant, statuses in sorted(found.quotas.items()):
        if statuses:
            console.print(f"{tenant}: quotas this month")
            console.print(_quota_table(statuses))


def _quota_table(statuses: list[QuotaStatus]) -> Table:
    table = Table("meter", "month", "used", "soft limit", "hard limit", "unit", "level", "resets")
    for status in statuses:
        table.add_row(
            str(status.quota.meter),
            status.month.label,
            f"{status.used:,}",
            _limit(status.quota.soft),
            _limit(status.quota.hard),
            status.unit,
            str(status.level),
            status.month.resets_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
    return table
