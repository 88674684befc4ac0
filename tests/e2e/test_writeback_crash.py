"""Kill the writeback worker at random moments, a hundred times: no effect lost or doubled.

The worker runs as a separate process (forked by ``orderops.workflow.writeback_standalone
--fork-server``, so each restart costs a fork, not an interpreter start) against the test
database, and the vendor sandboxes are served from this process, whose ledgers are the
truth. Between kills more refunds and notes are queued, so kills land while claiming,
while a request is on the wire (some answers are slowed, dropped or turned into 500s after
the effect), and while recording. At the end a clean worker drains the outbox, and every
queued effect must be in the ledgers exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from builders.writeback import Sandboxes, served_sandboxes
from orderops.bootstrap import App
from orderops.domain.clock import SystemClock
from orderops.sandbox import Fault, FaultKind
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.writeback import WritebackAttempt
from orderops.storage.uow import UnitOfWork
from orderops.writeback.outbox import enqueue

TRIALS = 100
PER_TRIAL = 3
SEED = 20261120
WORKER_FLAGS = ["--lease", "0.4", "--base-delay", "0.05", "--max-attempts", "100000"]
WORKER_FLAGS += ["--batch", "4", "--interval", "0.05", "--max-delay", "1"]
# A message claimed by many killed workers has many attempts; without a cap its backoff
# (0.05 s doubled per attempt) outgrows the finisher's minute on a slow machine.


@pytest.fixture
def sandboxes() -> Iterator[Sandboxes]:
    with served_sandboxes() as served:
        yield served


def worker_env(database_url: str, box: Sandboxes) -> dict[str, str]:
    settings = box.settings()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDEROPS_")}
    env.update(
        {
            "ORDEROPS_DATABASE_URL": database_url,
            "ORDEROPS_DEMO_MODE": "true",
            "ORDEROPS_WRITEBACK_TENANT": "acme",
            "ORDEROPS_WRITEBACK_ALLOW_TEST_MODE": "true",
            "ORDEROPS_WRITEBACK_STRIPE_URL": box.urls["stripe"],
            "ORDEROPS_WRITEBACK_STRIPE_API_KEY": settings.stripe_api_key,
            "ORDEROPS_WRITEBACK_SHOPIFY_URL": box.urls["shopify"],
            "ORDEROPS_WRITEBACK_SHOPIFY_ACCESS_TOKEN": settings.shopify_access_token,
        }
    )
    return env


class Queue:
    """Seeds the vendors and queues one refund or one note per call, remembering each."""

    def __init__(self, app: App, box: Sandboxes) -> None:
        self.app, self.box = app, box
        self.refund_keys: list[str] = []
        self.note_orders: list[int] = []
        self.clock = SystemClock()

    def more(self, count: int, rng: random.Random) -> None:
        with UnitOfWork(self.app.sessions, tenant_id="acme") as uow:
            for _ in range(count):
                if rng.random() < 0.5:
                    self._refund(uow)
                else:
                    self._note(uow)
            uow.commit()

    def _refund(self, uow: UnitOfWork) -> None:
        key = f"refund-{len(self.refund_keys)}"
        intent = self.box.stripe.add_payment_intent(amount=2000)
        payload = {"payment_intent": intent, "amount_minor": 700}
        self._enqueue(uow, "stripe", "refund", key, payload)
        self.refund_keys.append(key)

    def _note(self, uow: UnitOfWork) -> None:
        order_id, _ = self.box.shopify.add_order()
        key = f"note-{len(self.note_orders)}"
        self._enqueue(uow, "shopify", "add_note", key, {"order_id": order_id, "text": "sorry"})
        self.note_orders.append(order_id)

    def _enqueue(
        self, uow: UnitOfWork, system: str, operation: str, key: str, payload: dict[str, object]
    ) -> None:
        enqueue(
            uow,
            system=system,
            operation=operation,
            idempotency_key=key,
            payload=payload,
            now=self.clock.now() - timedelta(seconds=1),
        )


def inject_faults(box: Sandboxes, rng: random.Random) -> None:
    """A few answers lost after the effect and a few slow ones, to widen the crash windows."""
    kinds = [FaultKind.SLOW, FaultKind.CRASH_AFTER_EFFECT, FaultKind.DROP_AFTER_EFFECT]
    for vendor in (box.stripe, box.shopify):
        vendor.control.inject(Fault(kind=rng.choice(kinds), delay=0.15, retry_after=0.0))


def vendor_requests(box: Sandboxes) -> int:
    return len(box.stripe.control.requests()) + len(box.shopify.control.requests())


def wait_for_a_request(box: Sandboxes, *, since: int, limit: float = 3.0) -> None:
    """Until the worker has called a vendor (or ``limit`` passed): on a loaded machine a
    forked worker's start takes longer than the kill's random delay, and kills that all
    land before the first claim leave every effect, and every injected fault, to the
    finisher (310 effects took it over a minute under CI load)."""
    deadline = time.monotonic() + limit
    while vendor_requests(box) <= since and time.monotonic() < deadline:
        time.sleep(0.005)


def statuses(app: App) -> Counter[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return Counter({status: count for status, count in rows})


def abandoned_attempts(app: App) -> int:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return (
            uow.session.scalar(
                select(func.count())
                .select_from(WritebackAttempt)
                .where(WritebackAttempt.outcome == "abandoned")
            )
            or 0
        )


def test_sigkilled_workers_neither_lose_nor_double_an_effect(
    app: App, database_url: str, sandboxes: Sandboxes
) -> None:
    rng = random.Random(SEED)
    queue = Queue(app, sandboxes)
    queue.more(10, rng)
    env = worker_env(database_url, sandboxes)
    module = [sys.executable, "-m", "orderops.workflow.writeback_standalone", *WORKER_FLAGS]
    server = subprocess.Popen(
        [*module, "--fork-server"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    kills = 0
    requests_so_far = 0
    try:
        for trial in range(TRIALS):
            server.stdin.write(f"start crash-{trial}\n")
            server.stdin.flush()
            # the fork server says "started <pid>", the worker "ready <pid>" once it is wired
            announced = dict(server.stdout.readline().split() for _ in range(2))
            assert set(announced) == {"started", "ready"}, announced
            assert announced["started"] == announced["ready"]
            pid = int(announced["started"])
            if trial % 4 == 0:
                inject_faults(sandboxes, rng)
            queue.more(PER_TRIAL, rng)
            wait_for_a_request(sandboxes, since=requests_so_far)
            time.sleep(rng.uniform(0.0, 0.15))
            os.kill(pid, signal.SIGKILL)
            requests_so_far = vendor_requests(sandboxes)
            kills += 1
        server.stdin.write("quit\n")
        server.stdin.flush()
        server.wait(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()

    finisher = subprocess.run(
        [*module, "--until-idle", "--worker-id", "finisher"], env=env, timeout=120, check=False
    )
    for vendor in (sandboxes.stripe, sandboxes.shopify):
        vendor.control.wait_idle()

    queued = len(queue.refund_keys) + len(queue.note_orders)
    assert kills == TRIALS
    assert finisher.returncode == 0
    assert statuses(app) == Counter({"delivered": queued})
    assert abandoned_attempts(app) > 0, "no kill interrupted a delivery"
    refunds = Counter(
        e.idempotency_key for e in sandboxes.stripe.control.ledger.entries("refund.created")
    )
    assert refunds == Counter(dict.fromkeys(queue.refund_keys, 1))
    notes = Counter(
        int(e.target) for e in sandboxes.shopify.control.ledger.entries("order.updated")
    )
    assert notes == Counter(dict.fromkeys(queue.note_orders, 1))
