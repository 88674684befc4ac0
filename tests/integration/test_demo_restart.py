"""A demo restarted over the same data dir, and a demo whose port is taken.

A restart's sandboxes start empty, so the store mirror reads back every event the earlier
runs stored (hot inbox and archive alike, in provider-time order, only the demo tenant's)
and then skips what it has already seen, so a replayed older event never moves a record
back. A demo that cannot have its port says so in one line, exits non-zero and starts
nothing: no database, no threads, no web server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from builders.events import order_placed, payment
from orderops.bootstrap import App
from orderops.config import Settings
from orderops.demo import DemoCannotStart, DemoOptions, run_demo
from orderops.domain.clock import FixedClock
from orderops.sandbox.connected import VendorSandboxes
from orderops.sandbox.seeding import StoreMirror, stored_events
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import process_pending
from orderops.workflow.retention import run_retention


def store(app: App, clock: FixedClock, events: list[dict[str, Any]], tenant: str = "acme") -> None:
    ingest_items(app.sessions, tenant_id=tenant, items=events, channel="test", clock=clock)
    process_pending(app.sessions, tenant_id=tenant, clock=clock)


def paid_order(order_ref: str, clock: FixedClock) -> list[dict[str, Any]]:
    at = clock.now() - timedelta(hours=1)
    return [
        order_placed(order_ref, at=at, event_id=f"{order_ref}-placed"),
        payment(
            order_ref,
            status="captured",
            at=at + timedelta(minutes=5),
            payment_ref=f"pi_{order_ref}",
            event_id=f"{order_ref}-paid",
        ),
    ]


# --- what a restart reads back ---------------------------------------------------------------


def test_stored_events_are_read_back_hot_and_archived_in_provider_time_order(
    app: App, clock: FixedClock
) -> None:
    start = clock.now()
    store(app, clock, paid_order("1001", clock))
    store(app, clock, paid_order("2002", clock), tenant="globex")
    clock.advance(timedelta(days=100))
    store(app, clock, paid_order("3003", clock))
    # A straggler the store sends late: hot, yet older than everything archived.
    straggler = order_placed("4004", at=start - timedelta(days=3), event_id="4004-placed")
    store(app, clock, [straggler])
    moved = run_retention(app.sessions, tenant_id="acme", clock=clock).inbox_moved

    read = [e["id"] for e in stored_events(app.sessions, tenant_id="acme")]

    assert moved == 2
    assert read == ["4004-placed", "1001-placed", "1001-paid", "3003-placed", "3003-paid"]


def test_a_restart_seeds_each_stored_event_once_and_a_replay_never_moves_a_record_back(
    app: App, clock: FixedClock
) -> None:
    at = clock.now() - timedelta(hours=2)
    authorized = payment(
        "5005", status="authorized", at=at, payment_ref="pi_5005", event_id="5005-auth"
    )
    captured = payment(
        "5005",
        status="captured",
        at=at + timedelta(minutes=30),
        payment_ref="pi_5005",
        event_id="5005-capture",
    )
    placed = order_placed("5005", at=at - timedelta(minutes=1), event_id="5005-placed")
    store(app, clock, [captured, placed, authorized])
    mirror = StoreMirror(VendorSandboxes())

    first = mirror.seed_stored(app.sessions, tenant_id="acme")
    mirror.seed([placed, authorized])  # the simulator's history, replayed by the restart
    again = mirror.seed_stored(app.sessions, tenant_id="acme")

    assert (first, again) == (3, 0)
    intent = mirror.sandboxes.stripe.payment_intent("pi_5005")
    assert (intent["status"], intent["amount_received"]) == ("succeeded", 5000)
    assert mirror.sandboxes.shopify.order(5005)["financial_status"] == "paid"


def test_another_tenants_events_are_not_in_the_restarted_mirror(
    app: App, clock: FixedClock
) -> None:
    store(app, clock, paid_order("6006", clock), tenant="globex")
    mirror = StoreMirror(VendorSandboxes())

    seeded = mirror.seed_stored(app.sessions, tenant_id="acme")

    assert seeded == 0
    assert mirror.sandboxes.stripe.control.ledger.entries() == []
    with pytest.raises(Exception, match="pi_6006"):
        mirror.sandboxes.stripe.payment_intent("pi_6006")


# --- a taken port ----------------------------------------------------------------------------


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process is listening on."""
    with socket.create_server(("127.0.0.1", 0)) as holder:
        yield int(holder.getsockname()[1])


def test_a_demo_on_a_taken_port_refuses_before_it_starts_or_stores_anything(
    taken_port: int, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo_mode=True, port=taken_port)
    threads_before = set(threading.enumerate())
    options = DemoOptions(seed=7, days=1, speed=1000, duration=1, orders_per_day=10)

    with pytest.raises(DemoCannotStart) as refused:
        run_demo(settings, options, Console(file=open(os.devnull, "w")))  # noqa: SIM115

    assert refused.value.message == (
        f"cannot serve the demo on 127.0.0.1:{taken_port} (Address already in use); "
        "choose another port with --port"
    )
    assert set(threading.enumerate()) == threads_before
    assert not (tmp_path / "data").exists()


def test_the_demo_command_on_a_taken_port_exits_1_with_one_line_naming_port_and_flag(
    taken_port: int, tmp_path: Path
) -> None:
    env = {**os.environ, "ORDEROPS_DATA_DIR": str(tmp_path / "data")}
    env.pop("ORDEROPS_DATABASE_URL", None)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "orderops.cli", "demo", "--port", str(taken_port)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        f"cannot serve the demo on 127.0.0.1:{taken_port} (Address already in use); "
        "choose another port with --port"
    ]
    assert "ready" not in done.stdout
    assert time.monotonic() - began < 30
    assert not (tmp_path / "data").exists()
