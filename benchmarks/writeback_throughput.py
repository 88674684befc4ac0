"""Writeback throughput and p99 latency: through the outbox vs calling the sandbox directly.

Same run, same Stripe sandbox, same refunds: first ``N`` direct connector calls spread over
``k`` threads, then ``N`` refunds enqueued and drained by ``k`` outbox workers (threads, each
with its own worker id) on PostgreSQL, for k = 1, 2, 4. The outbox does more per effect
(claim, precheck reads, write, read-back, record with audit), so the ratios say what
at-most-once delivery costs. Not part of the test suite.

    python benchmarks/writeback_throughput.py [--quick] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import SystemClock
from orderops.sandbox import run_sandbox
from orderops.sandbox.stripe import StripeSandbox
from orderops.storage.tables.writeback import WritebackAttempt
from orderops.storage.uow import UnitOfWork
from orderops.workflow.tenants import ensure_tenant
from orderops.writeback.connections import ConnectorPool, WritebackSettings
from orderops.writeback.connectors.base import RetryPolicy
from orderops.writeback.outbox import enqueue
from orderops.writeback.policy import DeliveryPolicy
from orderops.writeback.worker import WritebackRuntime, open_messages, run_writeback_once

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RETRY = RetryPolicy(max_attempts=2, initial_backoff=0.01, max_backoff=0.05, jitter=0.0)


@dataclass(frozen=True)
class Run:
    label: str
    threads: int
    count: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.count / self.seconds

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]

    def line(self) -> str:
        median = 1000 * statistics.median(self.latencies)
        return (
            f"{self.label:8} k={self.threads}  {self.per_second:8.1f}/s  "
            f"p50 {median:7.1f} ms  p99 {self.p99_ms:7.1f} ms"
        )


def direct(box: StripeSandbox, url: str, *, count: int, threads: int) -> Run:
    pool = ConnectorPool(
        WritebackSettings(_env_file=None, stripe_url=url, stripe_api_key=box.api_key), retry=RETRY
    )
    intents = [box.add_payment_intent(amount=1000) for _ in range(count)]
    latencies: list[float] = []
    lock = threading.Lock()

    def one(n: int) -> None:
        started = time.perf_counter()
        pool.for_tenant(f"bench-{n % threads}").stripe().refund(
            payment_intent=intents[n], amount_minor=300, idempotency_key=f"direct-{uuid.uuid4()}"
        )
        with lock:
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as executor:
        list(executor.map(one, range(count)))
    seconds = time.perf_counter() - began
    pool.close()
    return Run("direct", threads, count, seconds, latencies)


def through_outbox(
    box: StripeSandbox, url: str, database_url: str, *, count: int, threads: int
) -> Run:
    clock = SystemClock()
    app = bootstrap(Settings(database_url=database_url, demo_mode=True), clock=clock)
    ensure_tenant(app.sessions, tenant_id="bench", name="Bench", clock=clock)
    settings = WritebackSettings(_env_file=None, stripe_url=url, stripe_api_key=box.api_key)
    runtime = WritebackRuntime(
        connectors=ConnectorPool(settings, clock=clock, retry=RETRY),
        policy=DeliveryPolicy(batch_size=5, base_delay=timedelta(milliseconds=50)),
    )
    intents = [box.add_payment_intent(amount=1000) for _ in range(count)]
    with UnitOfWork(app.sessions, tenant_id="bench") as uow:
        for n, intent in enumerate(intents):
            enqueue(
                uow,
                system="stripe",
                operation="refund",
                idempotency_key=f"outbox-{threads}-{n}",
                payload={"payment_intent": intent, "amount_minor": 300},
                now=clock.now(),
            )
        uow.commit()

    def worker(index: int) -> None:
        while open_messages(app) > 0:
            if run_writeback_once(app, worker_id=f"bench-{index}", runtime=runtime) == 0:
                time.sleep(0.01)

    began = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    seconds = time.perf_counter() - began
    with UnitOfWork(app.sessions, tenant_id="bench", write=False) as uow:
        rows = uow.session.execute(
            select(WritebackAttempt.started_at, WritebackAttempt.finished_at).where(
                WritebackAttempt.outcome == "delivered"
            )
        ).all()
    latencies = [(finished - started).total_seconds() for started, finished in rows if finished]
    runtime.close()
    app.close()
    return Run("outbox", threads, len(latencies), seconds, latencies)


def with_schema(postgres_url: str, body: Callable[[str], list[Run]]) -> list[Run]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(postgres_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        return body(url.render_as_string(hide_password=False))
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 refunds per run instead of 600")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("ORDEROPS_TEST_POSTGRES_URL", DEFAULT_PG)
    )
    args = parser.parse_args()
    count = 60 if args.quick else 600
    box = StripeSandbox()
    results: list[tuple[Run, Run]] = []
    with run_sandbox(box.app) as url:
        for threads in (1, 2, 4):
            plain = direct(box, url, count=count, threads=threads)
            queued = with_schema(
                args.postgres_url,
                lambda db, k=threads: [through_outbox(box, url, db, count=count, threads=k)],
            )[0]
            results.append((plain, queued))
            print(plain.line())
            print(queued.line())
    print()
    print("k  outbox/direct throughput  outbox/direct p99")
    for plain, queued in results:
        print(
            f"{plain.threads}  {queued.per_second / plain.per_second:24.2f}"
            f"  {queued.p99_ms / plain.p99_ms:17.2f}"
        )


if __name__ == "__main__":
    main()
