"""The `orderops` command: thin Typer shells over the application services."""

from __future__ import annotations

import logging
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from orderops.commands import (
    access,
    agents,
    audit_export,
    backtest,
    backup,
    cases,
    choices,
    connections,
    erasure,
    evaluate,
    holds,
    identity,
    imports,
    inbox,
    ingest_file,
    limits,
    links,
    models,
    notifications,
    outbox,
    playbook,
    recommend,
    reconcile,
    redteam,
    retention,
    sandbox,
    scopes,
    settings_table,
    shadow,
    sources,
    sso,
    tenancy,
    usage,
    webhooks,
)
from orderops.commands.errors import CleanErrors
from orderops.commands.shared import (
    JsonOpt,
    default_app,
    print_json,
    require_secret_key,
    require_tenant,
)

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.config import Settings

# Everything else is imported inside the command that needs it: the API app, the web
# server, the database layer and the models' numeric stack take seconds to load, and
# `orderops --help` (like every command's help) should answer at once.

cli = typer.Typer(
    cls=CleanErrors,  # a configuration error: one line with the fix, exit 2 (commands/errors.py)
    no_args_is_help=True,
    help="OrderOps: the exception desk for e-commerce orders.",
)
db_cli = typer.Typer(no_args_is_help=True, help="Database schema.")
tenant_cli = typer.Typer(no_args_is_help=True, help="Tenants and API keys.")
dead_cli = typer.Typer(no_args_is_help=True, help="Input that could not be accepted.")
audit_cli = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
cli.add_typer(db_cli, name="db")
cli.add_typer(tenant_cli, name="tenant")
cli.add_typer(dead_cli, name="deadletters")
cli.add_typer(audit_cli, name="audit")
sources.register(cli)
connections.register(cli)
imports.register(cli)
identity.register(cli)
access.register(cli)
sso.register(cli)  # after access: adds `users totp` to its `users` group
scopes.register(cli)  # after access: it adds set-scope to the users and keys groups
outbox.register(cli)
recommend.register(cli)
redteam.register(cli)  # eval redteam
playbook.register(cli)
evaluate.register(cli)
links.register(cli)
notifications.register(cli)
holds.register(cli)
choices.register(cli)
reconcile.register(cli)
inbox.register(cli)
retention.register(cli)
erasure.register(cli)
usage.register(cli)
ingest_file.register(cli)
cases.register(cli)
backup.register(cli)
settings_table.register(cli)
sandbox.register(cli)
webhooks.register(cli)
models.register(cli)  # models train|evaluate|promote|retire|list (model registry)
agents.register(cli)  # mcp serve, agents limits set|show (issue #17 item 3)
backtest.register(cli)  # backtest --tenant T --from D1 --to D2 --candidate FILE (#17 item 1)
shadow.register(cli)  # shadow start|stop|report|promote|approve|withdraw (issue #17)
audit_export.register(audit_cli)
tenancy.register(tenant_cli)  # tenant create, tenant key [issue|list|rotate|revoke]
limits.register(tenant_cli)
console = Console()

TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")]


def _settings(**overrides: object) -> Settings:
    from orderops.config import Settings

    return Settings(**overrides)  # type: ignore[arg-type]


def _app() -> App:
    """Strict settings: serve and worker refuse the placeholder secret key outside the demo."""
    from orderops.bootstrap import bootstrap

    return bootstrap(_settings())


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest revision."""
    from orderops.storage.engine import make_engine
    from orderops.storage.migrate import upgrade

    settings = _settings(demo_mode=True)
    engine = make_engine(settings.resolved_migration_database_url)
    upgrade(engine, app_role=settings.database_app_role)
    engine.dispose()
    console.print(f"schema is current on {engine.url.render_as_string(hide_password=True)}")


@cli.command()
def serve(
    worker: Annotated[bool, typer.Option(help="Also run a worker thread in this process.")] = True,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default ORDEROPS_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default ORDEROPS_PORT).")
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="HTTP worker processes (uvicorn --workers); a worker thread stays one."
        ),
    ] = 1,
    proxy_headers: Annotated[
        bool,
        typer.Option(help="Trust X-Forwarded-For/-Proto from --forwarded-allow-ips."),
    ] = True,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated proxy addresses (or *) whose forwarded headers are trusted "
            "(default: uvicorn's, 127.0.0.1 or $FORWARDED_ALLOW_IPS)."
        ),
    ] = None,
) -> None:
    """Run the HTTP API (and, by default, a worker) until stopped."""
    import uvicorn

    from orderops import heap
    from orderops.api.app import create_app
    from orderops.telemetry.setup import configure_process
    from orderops.workflow.worker import run_forever

    app = _app()  # migrates once, before any HTTP process starts
    configure_process(app.settings)  # JSON logs, traces when ORDEROPS_OTLP_ENDPOINT is set
    stop = threading.Event()
    if worker:
        threading.Thread(
            target=run_forever,
            kwargs={"app": app, "stop": stop, "interval": app.settings.sweep_interval_seconds},
            daemon=True,
        ).start()
    options: dict[str, Any] = {
        "host": host or app.settings.host,
        "port": port or app.settings.port,
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": forwarded_allow_ips,
        "log_config": None,  # uvicorn's records go through our JSON logs
        "access_log": False,  # one line per request already (telemetry/requests.py)
    }
    if workers > 1:  # each process builds its own app from the same settings
        uvicorn.run("orderops.commands.serving:asgi_app", factory=True, workers=workers, **options)
    else:
        web = create_app(app)
        heap.settle()
        uvicorn.run(web, **options)
    stop.set()


@cli.command()
def worker() -> None:
    """Process pending events and run time sweeps for every tenant, until stopped."""
    from orderops import heap, redaction
    from orderops.telemetry.setup import configure_process
    from orderops.workflow.worker import run_forever

    logging.basicConfig(level=logging.INFO)
    redaction.install()
    app = _app()
    configure_process(app.settings)  # JSON logs, traces when ORDEROPS_OTLP_ENDPOINT is set
    heap.settle()
    stop = threading.Event()
    try:
        run_forever(app, stop=stop, interval=app.settings.sweep_interval_seconds)
    except KeyboardInterrupt:
        stop.set()


class SimFormat(StrEnum):
    CANONICAL = "canonical"
    WEBHOOKS = "webhooks"


@cli.command()
def sim(
    out: Annotated[Path, typer.Option(help="Folder for events.jsonl and labels.jsonl.")] = Path(
        "data/sim"
    ),
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same store.")] = 7,
    days: Annotated[float, typer.Option(help="Days of the evaluated window.")] = 1.0,
    history_days: Annotated[
        int | None, typer.Option(help="Days of trading before the window (6; webhooks: 4).")
    ] = None,
    orders_per_day: Annotated[int, typer.Option(help="Orders the store takes a day.")] = 150,
    payment_failed_rate: Annotated[
        float, typer.Option(help="Share of orders whose payment fails.")
    ] = 0.04,
    late_rate: Annotated[float, typer.Option(help="Share of shipments that run late.")] = 0.05,
    format_: Annotated[
        SimFormat,
        typer.Option(
            "--format",
            help="canonical: events.jsonl of canonical events. webhooks: deliveries.jsonl of "
            "provider webhooks (Shopify, Stripe, EasyPost, Shippo, AfterShip, Zendesk) with "
            "labels.jsonl, policy.yaml and store.json; the rates do not apply.",
        ),
    ] = SimFormat.CANONICAL,
) -> None:
    """Simulate a store and write its events and ground-truth labels."""
    if format_ is SimFormat.WEBHOOKS:
        _sim_webhooks(out, seed=seed, days=days, history_days=history_days, per_day=orders_per_day)
        return
    from orderops.sim import SimConfig, simulate, write_sim

    history_days = 6 if history_days is None else history_days

    config = SimConfig(
        seed=seed,
        days=days,
        history_days=history_days,
        orders_per_day=orders_per_day,
        payment_failed_rate=payment_failed_rate,
        late_rate=late_rate,
    )
    result = simulate(config)
    events_path, labels_path = write_sim(result, out)
    console.print(
        f"{len(result.events)} events -> {events_path}\n"
        f"{len(result.labels)} labels -> {labels_path}"
    )
    console.print(
        f"window: {config.start.isoformat()} .. {config.end.isoformat()} "
        f"(ingest with --now {config.end.isoformat()})"
    )


def _sim_webhooks(
    out: Path, *, seed: int, days: float, history_days: int | None, per_day: int
) -> None:
    from orderops.sim.providers.run import write_store

    try:
        written = write_store(
            out,
            seed=seed,
            days=days,
            orders_per_day=per_day,
            history_days=4 if history_days is None else history_days,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    summary = written.summary
    counts = ", ".join(f"{name} {n}" for name, n in summary["counts"].items())
    console.print(f"{written.deliveries} deliveries ({counts}) -> {out / 'deliveries.jsonl'}")
    console.print(f"{written.labels} labels -> {out / 'labels.jsonl'}")
    console.print(f"policy -> {out / 'policy.yaml'}, summary -> {out / 'store.json'}")
    window = summary["window"]
    console.print(f"window: {window['start']} .. {window['end']}")


@cli.command()
def demo(
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many wall seconds.")
    ] = None,
    speed: Annotated[float, typer.Option(help="Simulated seconds per wall second.")] = 1800.0,
    days: Annotated[float, typer.Option(help="Simulated days to stream.")] = 14.0,
    seed: Annotated[int, typer.Option(help="Random seed of the simulated store.")] = 7,
    orders_per_day: Annotated[int, typer.Option(help="Orders the store takes a day.")] = 120,
) -> None:
    """Start the desk on the embedded database and stream a simulated store into it."""
    from orderops.demo import DemoCannotStart, DemoOptions, run_demo

    settings = _settings(demo_mode=True, port=port)
    try:
        run_demo(
            settings,
            DemoOptions(
                seed=seed, days=days, speed=speed, duration=duration, orders_per_day=orders_per_day
            ),
            console,
        )
    except DemoCannotStart as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from exc


@dead_cli.command("list")
def deadletters_list(
    tenant: TenantOpt,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 50,
    json_: JsonOpt = False,
) -> None:
    """Refused input and failed processing, newest first."""
    from rich.table import Table

    from orderops.storage.uow import UnitOfWork

    app = default_app()
    require_tenant(app, tenant)
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        letters = uow.dead_letters.list(limit=limit)
        if json_:
            fields = [
                "id",
                "received_at",
                "status",
                "reason_code",
                "reason",
                "channel",
                "body_bytes",
            ]
            print_json({"items": [{name: getattr(x, name) for name in fields} for x in letters]})
            return
        table = Table("received", "status", "reason", "bytes")
        table.add_column("id", no_wrap=True, min_width=32)
        for letter in letters:
            table.add_row(
                letter.received_at.isoformat(timespec="seconds"),
                letter.status,
                f"{letter.reason_code}: {letter.reason[:80]}",
                str(letter.body_bytes),
                letter.id,
            )
    console.print(table)


@dead_cli.command("show")
def deadletters_show(
    tenant: TenantOpt,
    letter_id: Annotated[str, typer.Argument(help="Id from `orderops deadletters list`.")],
) -> None:
    """One dead letter: why it was refused, where from, and its body."""
    from orderops.storage.uow import UnitOfWork

    app = default_app()
    require_tenant(app, tenant)
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        letter = uow.dead_letters.get(letter_id)
        if letter is None:
            raise typer.BadParameter(f"no dead letter {letter_id} for tenant {tenant}")
        console.print(
            f"{letter.reason_code}: {letter.reason}\nchannel {letter.channel}, "
            f"{letter.body_bytes} bytes{' (truncated)' if letter.body_truncated else ''}"
        )
        console.print(letter.body, markup=False, highlight=False)


@dead_cli.command("replay")
def deadletters_replay(
    tenant: TenantOpt,
    letter_id: Annotated[str, typer.Argument(help="Id from `orderops deadletters list`.")],
) -> None:
    """Run a dead letter again after the cause was fixed: refused input goes through intake
    again; an event whose processing failed is processed again from its inbox row."""
    from orderops.domain.errors import NotFound
    from orderops.workflow.replay import replay_dead_letter

    app = default_app()
    try:
        require_secret_key(app)  # processing appends audit records
        require_tenant(app, tenant)
        result = replay_dead_letter(
            app.sessions, tenant_id=tenant, letter_id=letter_id, clock=app.clock
        )
    except NotFound as exc:
        raise typer.BadParameter(exc.message) from exc
    finally:
        app.close()
    console.print(result.message, style=None if result.ok else "red", markup=False)
    if not result.ok:
        raise typer.Exit(1)


@audit_cli.command("verify")
def audit_verify(
    tenant: TenantOpt,
    against: Annotated[
        Path | None,
        typer.Option(help="A signed checkpoint (audit checkpoint/export) the chain must match."),
    ] = None,
) -> None:
    """Recompute the tenant's chain with the audit key; exit 1 on the first edited, deleted
    or reordered record, or (``--against``) when the checkpoint's record was rewritten."""
    app = default_app()
    try:
        require_secret_key(app)  # the chain's hashes are keyed by it
        require_tenant(app, tenant)
        ok, message = audit_export.verify_command(app, tenant, against)
    finally:
        app.close()
    if ok:
        console.print(message, soft_wrap=True)
        return
    console.print(message, style="bold red", soft_wrap=True)
    raise typer.Exit(1)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
