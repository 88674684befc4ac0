"""`orderops demo`: a simulated store streaming into the embedded desk, in accelerated time.

History is backfilled at once; the observed window then plays at ``speed`` simulated
seconds per wall second, with the worker sweeping on the same simulated clock, so
promises pass and late shipments surface while you watch.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import uvicorn
from rich.console import Console
from rich.panel import Panel

from orderops.api.app import create_app
from orderops.bootstrap import App, bootstrap
from orderops.cases.cases import CaseChange, CaseEvent
from orderops.config import Settings
from orderops.console.accounts import set_password
from orderops.decide.policy_versions import set_policy, version_info
from orderops.demo_history import people, settle_history
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import AcceleratedClock, Clock, FixedClock, SystemClock
from orderops.domain.errors import OrderOpsError
from orderops.domain.roles import Role
from orderops.ingest.bulk_intake import store_items
from orderops.sandbox.connected import VendorSandboxes, connected_sandboxes
from orderops.sandbox.seeding import StoreMirror
from orderops.sim import SimConfig, simulate
from orderops.storage.sqlite_writers import in_background
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant, issue_key
from orderops.tenancy.users import UserExists, add_user, list_users
from orderops.workflow.pipeline import process_pending
from orderops.workflow.worker import run_forever, run_once

TENANT = "demo"
DEMO_RATES = {
    str(t): 0.02
    for t in ExceptionType
    if t
    not in (
        ExceptionType.PAYMENT_FAILED,
        ExceptionType.SHIPMENT_LATE,
        ExceptionType.INTEGRATION_SILENCE,
    )
}
"""Every order-level exception type shows up in the demo, a few of each per day."""
DEMO_EMAIL = "admin@demo.example"
DEMO_APPROVER = "approver@demo.example"
DEMO_PASSWORD = "demo-password"
DEMO_APPROVAL_HOURS = 24 * 60
DEMO_HOLD_HOURS = 24 * 30
STYLE = {
    CaseChange.OPENED: "bold red",
    CaseChange.REOPENED: "red",
    CaseChange.MERGED: "yellow",
    CaseChange.RESOLVED: "green",
}


class DemoCannotStart(OrderOpsError):
    """The demo could not serve its web address; nothing was started or stored."""

    code = "demo-cannot-start"


@dataclass(frozen=True, kw_only=True)
class DemoOptions:
    seed: int
    days: float
    speed: float
    duration: float | None
    orders_per_day: int


def widen_approval_windows(app: App, clock: Clock) -> None:
    """Approval requests and desk holds lapse on business time, which the demo runs 1,800
    times faster than a reviewer: the default 48 h would lapse in 96 wall seconds, before
    a second approver signs in. The demo tenant's policy takes the longest windows the
    policy allows (60 and 30 simulated days: 48 and 24 wall minutes at the default speed),
    as a versioned, audited change like any other."""
    with UnitOfWork(app.sessions, tenant_id=TENANT, write=False) as uow:
        body = dict(version_info(uow).body)
    body.update(expiry_hours=DEMO_APPROVAL_HOURS, hold_expiry_hours=DEMO_HOLD_HOURS)
    set_policy(
        app.sessions,
        tenant_id=TENANT,
        body=body,
        actor="demo",
        clock=clock,
        note="the demo's business clock runs ahead of its reviewers",
    )


def run_demo(settings: Settings, options: DemoOptions, console: Console) -> None:
    # The port first: a demo that cannot serve its console is no demo, and finding out
    # after the backfill would leave a store streaming into a desk no one can open.
    listener = bind_listener(settings)
    sim = SimConfig(
        seed=options.seed,
        days=options.days,
        history_days=2,
        orders_per_day=options.orders_per_day,
        tenant=TENANT,
        rates=DEMO_RATES,
    )
    result = simulate(sim)
    backfill_clock = FixedClock(sim.start)
    app = bootstrap(settings, clock=backfill_clock)
    ensure_tenant(app.sessions, tenant_id=TENANT, name="Demo Store", clock=backfill_clock)
    widen_approval_windows(app, backfill_clock)
    login = demo_login(app, backfill_clock)
    # The printed key acts as the demo admin (a person), like every key: never as nobody.
    key = issue_key(
        app.sessions,
        tenant_id=TENANT,
        name="demo-admin",
        role=Role.ADMIN,
        clock=backfill_clock,
        user_id=_user_id(app, login),
        actor="demo",
    )
    history = [e for e in result.events if _time(e) <= sim.start]
    live = result.events[len(history) :]
    console.print(
        f"[dim]backfilling {len(history)} events of {sim.history_days} days of history...[/]"
    )
    # The sandboxes hold the simulated store's records under the events' ids before the
    # desk sees them, so its writebacks meet the same orders, payments and tickets there.
    mirror = mirror_store(app, tenant_id=TENANT, history=history)
    store_items(app.sessions, tenant_id=TENANT, items=history, channel="demo", clock=app.clock)
    process_pending(app.sessions, tenant_id=TENANT, clock=app.clock)
    # People settle part of that history, so recommendations show similar cases from the
    # start (their writebacks land once the worker runs): demo_history.py.
    proposer, *approvers = people(app, tenant_id=TENANT, emails=[login, DEMO_APPROVER])
    settle_history(app, tenant_id=TENANT, proposer=proposer, approvers=approvers)

    app.clock = AcceleratedClock(sim.start, options.speed)
    # Sign-in forms, console sessions and throttles keep real seconds (App.wall_clock).
    app.real_time = SystemClock()
    # Writeback goes to the local sandboxes through the tenant's stored connections, the
    # same mechanism as production (sandbox/connected.py), never ORDEROPS_WRITEBACK_*.
    vendors = contextlib.ExitStack()
    sandbox_urls = vendors.enter_context(
        connected_sandboxes(app, tenant_id=TENANT, sandboxes=mirror.sandboxes)
    )
    try:
        server = _start_server(app, settings, listener)
    except DemoCannotStart:
        vendors.close()
        app.close()
        raise
    stop = threading.Event()
    worker = threading.Thread(
        target=run_forever,
        kwargs={
            "app": app,
            "stop": stop,
            "interval": settings.sweep_interval_seconds,
            "on_changes": lambda changes: _show(console, app, changes),
        },
        daemon=True,
    )
    worker.start()
    url = f"http://{settings.host}:{settings.port}"
    console.print(
        Panel.fit(
            f"[bold]OrderOps demo[/] is running at [link={url}]{url}[/]  (API docs: {url}/docs)\n"
            f"console: [link={url}/console]{url}/console[/]  sign in as tenant [bold]{TENANT}[/], "
            f"[bold]{login}[/] / [bold]{DEMO_PASSWORD}[/] "
            f"(a second approver: [bold]{DEMO_APPROVER}[/], same password)\n"
            f"tenant: [bold]{TENANT}[/]   API key (admin): [bold]{key.secret}[/]\n"
            f"try: curl -H 'Authorization: Bearer {key.secret}' '{url}/v1/cases?open=true'\n"
            f"vendor sandboxes ({len(sandbox_urls)}, connected as test accounts): "
            f"{url}/console/admin/connections\n"
            f"simulated store: {len(result.events)} events, "
            f"{len(result.labels)} labelled exceptions, "
            f"1 wall second = {options.speed:.0f} simulated seconds.  Ctrl-C stops.",
            title="ready",
            border_style="green",
        )
    )
    started = time.monotonic()
    try:
        _stream(app, live, stop, started, options.duration, mirror)
        while not stop.is_set() and not _expired(started, options.duration):
            stop.wait(0.5)
    except KeyboardInterrupt:
        console.print("[dim]stopping...[/]")
    finally:
        stop.set()
        worker.join(timeout=10)
        server.should_exit = True
        _show(console, app, run_once(app))
        app.close()
        vendors.close()


def bind_listener(settings: Settings) -> socket.socket:
    """The web server's listening socket, bound now so a taken port is a clear error
    before anything runs; uvicorn then serves on this very socket (no window in which
    another process could take the port)."""
    host, port = settings.host, settings.port
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, reuse_port=False)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise DemoCannotStart(
            f"cannot serve the demo on {host}:{port} ({reason}); choose another port with --port"
        ) from exc


def mirror_store(app: App, *, tenant_id: str, history: list[dict[str, Any]]) -> StoreMirror:
    """Fresh sandboxes holding the store the desk will know: first what earlier runs over
    this database stored (a restart serves the orders its cases and outbox rows name),
    then this run's history (only what is new to the mirror)."""
    mirror = StoreMirror(VendorSandboxes())
    mirror.seed_stored(app.sessions, tenant_id=tenant_id)
    mirror.seed(history)
    return mirror


def _user_id(app: App, email: str) -> str:
    return next(u.id for u in list_users(app.sessions, tenant_id=TENANT) if u.email == email)


def demo_login(app: App, clock: Clock) -> str:
    """An admin who can sign in to the console and a second approver (maker-checker needs
    two people); idempotent, so a demo restarted on the same database still starts."""
    people = [
        ("Demo Admin", Role.ADMIN, DEMO_EMAIL),
        ("Demo Approver", Role.APPROVER, DEMO_APPROVER),
    ]
    for name, role, email in people:
        with contextlib.suppress(UserExists):
            add_user(
                app.sessions,
                tenant_id=TENANT,
                display_name=name,
                role=role,
                email=email,
                clock=clock,
                actor="demo",
            )
        set_password(
            app.sessions,
            tenant_id=TENANT,
            user_ref=email,
            password=DEMO_PASSWORD,
            clock=clock,
            actor="demo",
        )
    return DEMO_EMAIL


def _stream(
    app: App,
    events: list[dict[str, Any]],
    stop: threading.Event,
    started: float,
    duration: float | None,
    mirror: StoreMirror,
) -> None:
    position = 0
    in_background()  # the simulated store's writes let a reviewer's go first
    while position < len(events) and not stop.is_set() and not _expired(started, duration):
        now = app.clock.now()
        due = position
        while due < len(events) and _time(events[due]) <= now:
            due += 1
        if due > position:
            mirror.seed(events[position:due])
            # Stored only, as a webhook would be: the worker thread, woken by the store,
            # processes them and prints what changed.
            store_items(
                app.sessions,
                tenant_id=TENANT,
                items=events[position:due],
                channel="demo",
                clock=app.clock,
            )
            position = due
        stop.wait(0.2)


def _show(console: Console, app: App, changes: list[CaseEvent]) -> None:
    stamp = app.clock.now().strftime("%a %H:%M")
    for change in changes:
        style = STYLE.get(change.change, "white")
        console.print(
            f"[dim]{stamp}[/] [{style}]{change.change:<9}[/] "
            f"{change.exception_type:<15} {change.summary}"
        )


def _start_server(app: App, settings: Settings, listener: socket.socket) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(app), host=settings.host, port=settings.port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        server.should_exit = True
        thread.join(timeout=5)
        listener.close()
        raise DemoCannotStart(
            f"the demo's web server did not start on {settings.host}:{settings.port}; "
            f"choose another port with --port"
        )
    return server


def _expired(started: float, duration: float | None) -> bool:
    return duration is not None and time.monotonic() - started >= duration


def _time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["time"]))
