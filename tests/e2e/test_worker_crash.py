"""Kill the event worker mid-batch, again and again: nothing is lost, nothing is doubled.

The same store history is stored in two tenants' inboxes. One tenant is processed by a
worker in this process that nobody disturbs; the other by worker processes that are
SIGKILLed at random moments while they drain (during a claim, a projection, the judging
at the end of a chunk, a commit), each replaced by a new one, and finally by a clean
drain. Both tenants must end in the same state: the same orders, payments, shipments and
cases, the same timeline entries and audit records (each exactly once, and the chain
verifies), every inbox row processed.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
from datetime import datetime

from sqlalchemy import func, select

from builders.database_roles import owner_sessions
from builders.policies import DECLINES_AT_ONCE, store_detectors
from builders.worker import desk_state, work
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import accept_items
from orderops.sim import SimConfig, simulate
from orderops.storage.tables import InboxEvent
from orderops.workflow.pipeline import process_pending

KILLS = 6
SEED = 20261204
CHILD = """
import sys
from datetime import datetime
from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.workflow.pipeline import process_pending
clock = FixedClock(datetime.fromisoformat(sys.argv[2]))
app = bootstrap(Settings(database_url=sys.argv[1], demo_mode=True), clock=clock, migrate=False)
print("ready", flush=True)
while True:
    process_pending(app.sessions, tenant_id="acme", clock=clock, batch=25, wait_for_lock=False)
"""


def spawn(database_url: str, now: datetime) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDEROPS_")}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, database_url, now.isoformat()],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


def pending(app: App, tenant: str) -> int:
    with owner_sessions(app)() as session:
        count = session.scalar(
            select(func.count())
            .select_from(InboxEvent)
            .where(InboxEvent.tenant_id == tenant, InboxEvent.status == "pending")
        )
    return int(count or 0)


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    app: App, clock: FixedClock, database_url: str
) -> None:
    config = SimConfig(seed=3, days=1, history_days=1, orders_per_day=25, payment_failed_rate=0.3)
    events = simulate(config).events
    clock.set(config.end)
    for tenant in ("acme", "globex"):
        store_detectors(app, clock, DECLINES_AT_ONCE, tenant=tenant)
        accept_items(app.sessions, tenant_id=tenant, items=events, channel="test", clock=clock)
    process_pending(app.sessions, tenant_id="globex", clock=clock, batch=25)
    rng = random.Random(SEED)

    kills_mid_work = 0
    while kills_mid_work < KILLS and pending(app, "acme"):
        child = spawn(database_url, clock.now())
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=rng.uniform(0.1, 0.8))
        child.send_signal(signal.SIGKILL)
        child.wait()
        kills_mid_work += pending(app, "acme") > 0
    process_pending(app.sessions, tenant_id="acme", clock=clock, batch=25)

    assert kills_mid_work >= 3, "the work ended before the kills; the test proved nothing"
    crashed, clean = desk_state(app, "acme"), desk_state(app, "globex")
    assert clean["cases"], "the history opened no case; the comparison would be empty"
    assert crashed == clean
    assert crashed["inbox"] == [("processed", len(events))]
    assert crashed["audit_chain_ok"]
    assert work(app) == []
