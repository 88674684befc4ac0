"""Two worker processes on one tenant's inbox (issue #19 item 3), on PostgreSQL.

What any way of sharing a tenant between workers must keep, whatever it partitions by: every
event is applied exactly once, each order's events in provider-time order and never by two
workers at once, a worker SIGKILLed mid-chunk loses and doubles nothing, and the tenant ends
in the state one worker leaves. Today the tenant's processing lock makes the workers take
turns chunk by chunk (docs/ORDER_LANES.md says why order lanes are not built yet); these
tests are the specification a lane scheme has to pass unchanged.

A trigger (the test's own, created as the owner) writes a log row whenever an inbox row
becomes processed, in the transaction that processes it: a rolled-back or killed chunk
leaves no log row, a row applied twice leaves two, and the log's sequence is the order in
which rows were applied.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from builders.database_roles import owner_sessions
from builders.policies import DECLINES_AT_ONCE, store_detectors
from builders.worker import desk_state
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import accept_items
from orderops.sim import SimConfig, simulate
from orderops.storage.tables import InboxEvent
from orderops.workflow.pipeline import process_pending

ORDER_EVENTS = (
    "order.placed",
    "order.cancelled",
    "payment.updated",
    "shipment.created",
    "shipment.tracking",
)
"""Kinds whose ``subject`` is the order they belong to. The simulator also puts an order in
the subject of stock levels and customer records, which belong to no one order."""
KILLS = 4
SEED = 20261204
CHILD = """
import sys
import time
from datetime import datetime
from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.workflow.pipeline import process_turn
from orderops.workflow.worker import tenants_with_pending
app = bootstrap(Settings(database_url=sys.argv[1], demo_mode=True),
                clock=FixedClock(datetime.fromisoformat(sys.argv[2])), migrate=False)
print("ready", flush=True)
sys.stdin.readline()
while tenants_with_pending(app.sessions):
    turn = process_turn(app.sessions, tenant_id="acme", clock=app.clock, chunks=1)
    # After a chunk, step back long enough for the other worker to take the next one:
    # the test is about what happens when both work the tenant, so both must get turns.
    time.sleep(0.2 if turn.changes or turn.more else 0.01)
"""
LOG = """
CREATE TABLE test_processing_log (
    seq bigserial PRIMARY KEY, inbox_id text NOT NULL, worker text NOT NULL, xid bigint NOT NULL
);
CREATE FUNCTION test_log_processed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    INSERT INTO test_processing_log (inbox_id, worker, xid)
    VALUES (NEW.id, current_setting('application_name'), txid_current());
    RETURN NEW;
END $$;
CREATE TRIGGER test_log_processed AFTER UPDATE OF status ON inbox FOR EACH ROW
WHEN (NEW.status = 'processed' AND OLD.status IS DISTINCT FROM 'processed')
EXECUTE FUNCTION test_log_processed();
"""


@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def owner_database_url(postgres_owner_url: str) -> str:
    """Workers share a tenant on PostgreSQL only; SQLite has one writer."""
    return postgres_owner_url


@pytest.fixture
def processing_log(app: App) -> None:
    with owner_sessions(app)() as session:
        session.execute(text(LOG))
        session.commit()


@pytest.fixture
def history(app: App, clock: FixedClock, processing_log: None) -> list[dict[str, Any]]:
    """One store's day in two tenants' inboxes; "globex" processed by one worker."""
    config = SimConfig(seed=3, days=1, history_days=1, orders_per_day=25, payment_failed_rate=0.3)
    events = simulate(config).events
    clock.set(config.end)
    for tenant in ("acme", "globex"):
        store_detectors(app, clock, DECLINES_AT_ONCE, tenant=tenant)
        accept_items(app.sessions, tenant_id=tenant, items=events, channel="test", clock=clock)
    process_pending(app.sessions, tenant_id="globex", clock=clock, batch=25)
    return events


@contextlib.contextmanager
def workers(database_url: str, now: datetime, count: int) -> Iterator[list[subprocess.Popen[str]]]:
    """``count`` worker processes, ready, then let go together; killed if still running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDEROPS_")}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, named(database_url, f"worker-{n}"), now.isoformat()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(count)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        yield children
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
            child.wait()


def named(database_url: str, name: str) -> str:
    """The URL with ``name`` as the connection's application_name, which the log records."""
    url = make_url(database_url)
    return url.update_query_dict({"application_name": name}).render_as_string(hide_password=False)


def applied(app: App, tenant: str) -> list[tuple[str, str, datetime, str, str, str, int]]:
    """The tenant's log, in the order rows were applied: (inbox id, type, event time,
    source, subject, worker, transaction)."""
    with owner_sessions(app)() as session:
        rows = session.execute(
            text(
                "SELECT l.inbox_id, i.type, i.event_time, i.source, i.event_id, i.subject,"
                " l.worker, l.xid FROM test_processing_log l JOIN inbox i ON i.id = l.inbox_id"
                " WHERE i.tenant_id = :tenant ORDER BY l.seq"
            ),
            {"tenant": tenant},
        ).all()
    return [
        (
            r.inbox_id,
            r.type,
            r.event_time,
            r.source + "\x00" + r.event_id,
            r.subject,
            r.worker,
            r.xid,
        )
        for r in rows
    ]


def assert_each_order_applied_alone_in_provider_time_order(
    log: list[tuple[str, str, datetime, str, str, str, int]],
) -> None:
    per_order: dict[str, list[tuple[datetime, str, int]]] = defaultdict(list)
    for _, kind, at, key, subject, _, xid in log:
        if kind in ORDER_EVENTS:
            per_order[subject].append((at, key, xid))
    assert len(per_order) >= 20, "too few orders for the check to mean anything"
    for order, events in per_order.items():
        assert [(at, key) for at, key, _ in events] == sorted((at, key) for at, key, _ in events), (
            f"order {order}'s events were applied out of provider-time order"
        )
        transactions = [xid for _, _, xid in events]
        runs = [x for i, x in enumerate(transactions) if i == 0 or transactions[i - 1] != x]
        assert len(runs) == len(set(runs)), (
            f"order {order}'s events went back and forth between transactions: {runs}"
        )


def pending(app: App, tenant: str) -> int:
    with owner_sessions(app)() as session:
        rows = session.scalars(
            select(InboxEvent.id).where(
                InboxEvent.tenant_id == tenant, InboxEvent.status == "pending"
            )
        ).all()
    return len(rows)


def test_two_workers_on_one_tenant_apply_every_event_once_and_end_as_one_worker_does(
    app: App, clock: FixedClock, database_url: str, history: list[dict[str, Any]]
) -> None:
    with workers(database_url, clock.now(), 2) as children:
        for child in children:
            assert child.wait(timeout=300) == 0

    log = applied(app, "acme")
    assert sorted(row[0] for row in log) == sorted(set(row[0] for row in log)), (
        "an event was applied twice"
    )
    assert len(log) == len(history)
    assert {row[5] for row in log} == {"worker-0", "worker-1"}, (
        "one worker did all the work; nothing was shared"
    )
    assert_each_order_applied_alone_in_provider_time_order(log)
    shared, alone = desk_state(app, "acme"), desk_state(app, "globex")
    assert alone["cases"], "the history opened no case; the comparison would be empty"
    assert shared == alone
    assert shared["inbox"] == [("processed", len(history))]
    assert shared["audit_chain_ok"]


def test_a_worker_killed_mid_chunk_beside_another_loses_and_doubles_nothing(
    app: App, clock: FixedClock, database_url: str, history: list[dict[str, Any]]
) -> None:
    rng = random.Random(SEED)
    kills_mid_work = 0
    while kills_mid_work < KILLS and pending(app, "acme"):
        with workers(database_url, clock.now(), 2) as (doomed, survivor):
            with contextlib.suppress(subprocess.TimeoutExpired):
                doomed.wait(timeout=rng.uniform(0.2, 1.0))
            doomed.send_signal(signal.SIGKILL)
            doomed.wait()
            kills_mid_work += pending(app, "acme") > 0
            survivor.send_signal(signal.SIGKILL)
    process_pending(app.sessions, tenant_id="acme", clock=clock, batch=25)

    assert kills_mid_work >= 2, "the work ended before the kills; the test proved nothing"
    log = applied(app, "acme")
    assert len(log) == len({row[0] for row in log}) == len(history)
    assert_each_order_applied_alone_in_provider_time_order(log)
    assert desk_state(app, "acme") == desk_state(app, "globex")
