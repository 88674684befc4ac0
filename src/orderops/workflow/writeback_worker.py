"""The writeback worker: lease due outbox messages, deliver them, record what happened.

``orderops worker`` calls ``run_writeback_once`` each pass. One pass serves every tenant:
a short claiming transaction for a batch, delivery outside any transaction on a bounded
thread pool, and recording in groups: the batch's outcomes go into one transaction when
its deliveries end within ``group_wait`` of each other, and otherwise whatever has
finished by then. A vendor call mostly waits on the network, so a worker keeps
``concurrency`` of them in flight instead of one; a transaction costs mostly per
transaction, not per row, so fewer and fuller ones cost less per effect.

Two messages about the same order are delivered one after the other, in claim order, as a
single worker always did: the second one's precheck then reads what the first one wrote,
rather than both reading the vendor before either writes.

Any number of workers (threads or processes) may run at once; give each its own
``worker_id``, because a lease is only as exclusive as that id.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderops.bootstrap import App
from orderops.decide.communications import settle_deliveries
from orderops.decide.execution import on_action_message_settled, on_message_claimed
from orderops.domain.errors import ConfigurationError
from orderops.outbound.delivery import run_outbound_once
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.writeback import WritebackAttempt  # noqa: F401 - table metadata
from orderops.storage.uow import UnitOfWork, tenant_ids
from orderops.telemetry import steps
from orderops.telemetry.metrics import METRICS
from orderops.writeback.claims import ClaimedHook, claim_due
from orderops.writeback.conflicts import ConflictHook, send_back_for_review
from orderops.writeback.connections import ConnectorPool, WritebackSettings
from orderops.writeback.connectors.base import BreakerKey, BreakerState
from orderops.writeback.delivery import Claimed, deliver, request_summary
from orderops.writeback.outcomes import Outcome, OutcomeKind, decide
from orderops.writeback.policy import DeliveryPolicy
from orderops.writeback.registry import Registry, default_registry
from orderops.writeback.results import Finished, SettledGroupHook, record_outcomes
from orderops.writeback.sagas import on_messages_settled
from orderops.writeback.states import OPEN
from orderops.writeback.vendor_connections import StoredAccounts

log = logging.getLogger(__name__)


def settle_message(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
    """Settle one message as ``settle_messages`` settles a group."""
    settle_messages(uow, [message], now)


def settle_messages(uow: UnitOfWork, messages: Sequence[OutboxMessage], now: datetime) -> None:
    """The default settled hook: advance the messages' sagas, then conclude their actions
    (and move each action's case: resolved when all is delivered, failed otherwise)."""
    on_messages_settled(uow, messages, now)
    settle_deliveries(uow, messages, now)  # customer messages: delivered or failed
    for message in messages:
        on_action_message_settled(uow, message, now)


@dataclass
class WritebackRuntime:
    """What a worker needs beyond the app: connectors, operations, pacing and hooks."""

    connectors: ConnectorPool
    registry: Registry = field(default_factory=default_registry)
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    on_conflict: ConflictHook = send_back_for_review
    on_settled: SettledGroupHook = settle_messages
    on_claimed: ClaimedHook = on_message_claimed
    rand: Callable[[], float] = random.random
    concurrency: int = 8
    """Deliveries one worker keeps in flight at once (threads; the connectors are shared)."""
    group_wait: float = 0.05
    """Seconds a finished delivery may wait for the rest of its batch, to be recorded in
    the same transaction (0: record whatever has finished, as soon as it has)."""
    _executor: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _executor_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.group_wait < 0:
            raise ValueError("group_wait must not be negative")

    def systems(self, tenant_id: str, *, session: Session | None = None) -> frozenset[str]:
        """The tenant's systems both configured and known to the registry; others stay
        queued. Re-reads the tenant's vendor connections (in ``session``, the claim's
        transaction, when given), so a rotation applies from now."""
        return self.connectors.systems(tenant_id, session=session) & self.registry.systems()

    def executor(self) -> ThreadPoolExecutor:
        """The delivery threads, started on first use (after any fork, never before)."""
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix="writeback"
                )
            return self._executor

    def close(self) -> None:
        with self._executor_lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self.connectors.close()


_runtimes: dict[int, WritebackRuntime] = {}
_runtimes_lock = threading.Lock()


def runtime_for(app: App) -> WritebackRuntime:
    """The app's runtime, built once and closed with the app: each tenant's stored vendor
    connections, ``ORDEROPS_WRITEBACK_*`` for the one tenant it names (``connections.py``)."""
    key = id(app)
    with _runtimes_lock:
        runtime = _runtimes.get(key)
        if runtime is None:
            pool = ConnectorPool(stored_accounts(app), clock=app.clock)
            runtime = WritebackRuntime(connectors=pool)
            _runtimes[key] = runtime
            weakref.finalize(app, _forget, key)
        return runtime


def stored_accounts(app: App) -> StoredAccounts:
    """The production ``AccountSource``: the ``vendor_connections`` table, with
    ``ORDEROPS_WRITEBACK_*`` as the named tenant's fallback."""
    settings = WritebackSettings()
    if settings.configured_systems() and settings.tenant is None:
        log.warning(
            "ORDEROPS_WRITEBACK_* vendor settings are ignored: ORDEROPS_WRITEBACK_TENANT "
            "names no tenant they apply to (store connections with `orderops connections add`)"
        )
    return StoredAccounts(app.sessions, secret_key=app.settings.secret_key, fallback=settings)


def _forget(key: int) -> None:
    with _runtimes_lock:
        runtime = _runtimes.pop(key, None)
    if runtime is not None:
        runtime.close()


def run_writeback_once(app: App, *, worker_id: str, runtime: WritebackRuntime | None = None) -> int:
    """One pass over every tenant; the number of messages this worker handled."""
    runtime = runtime or runtime_for(app)
    return sum(
        deliver_due(app, runtime, tenant_id=tenant_id, worker_id=worker_id)
        for tenant_id in tenant_ids(app.sessions)
    ) + run_outbound_once(app, worker_id=worker_id)  # webhook events: outbound/delivery.py


def deliver_due(app: App, runtime: WritebackRuntime, *, tenant_id: str, worker_id: str) -> int:
    """Claim a batch of the tenant's due messages, deliver it, record it; the batch size."""
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        systems = [
            system
            for system in runtime.systems(tenant_id, session=uow.session)
            if runtime.connectors.breaker.state(BreakerKey(system, tenant_id))
            is not BreakerState.OPEN
        ]
        claimed = claim_due(
            uow,
            worker_id=worker_id,
            now=app.clock.now(),
            lease=runtime.policy.lease,
            limit=runtime.policy.batch_size,
            systems=systems,
            summarise=lambda row: _summary(runtime.registry, row),
            on_claimed=runtime.on_claimed,
        )
        uow.commit()
    if not claimed:
        return 0
    done: queue.Queue[Delivered] = queue.Queue()
    for chain in _chains(claimed):
        runtime.executor().submit(_deliver_chain, runtime, chain, done)
    failure: Exception | None = None
    waiting = len(claimed)
    while waiting:
        group = _next_group(done, waiting, runtime.group_wait)
        waiting -= len(group)
        failure = failure or next((e for _, e in group if isinstance(e, Exception)), None)
        delivered = [(item, e) for item, e in group if isinstance(e, Outcome)]
        if delivered:
            failure = _record(app, runtime, delivered, worker_id=worker_id) or failure
    if failure is not None:
        raise failure
    return len(claimed)


Delivered = tuple[Claimed, Outcome | Exception]
"""A message and what its delivery came to, or the unexpected error that ended it."""


def _next_group(done: queue.Queue[Delivered], waiting: int, wait: float) -> list[Delivered]:
    """The next outcomes to record together: the first to finish, then the others as they
    finish, until all ``waiting`` are in or the first has waited ``wait`` seconds (after
    which only those already there join). A transaction's cost is mostly per transaction,
    so the batch is recorded at once when its deliveries end close together, and a slow
    one holds the others' records back no longer than ``wait``."""
    group = [done.get()]
    deadline = time.monotonic() + wait
    while len(group) < waiting:
        try:
            group.append(done.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            break
    return group


def _chains(claimed: Sequence[Claimed]) -> list[list[Claimed]]:
    """The batch cut into runs that may be delivered side by side: one per order."""
    chains: dict[str, list[Claimed]] = {}
    alone: list[list[Claimed]] = []
    for item in claimed:
        if item.order_ref is None:
            alone.append([item])
        else:
            chains.setdefault(item.order_ref, []).append(item)
    return [*chains.values(), *alone]


def _deliver_chain(
    runtime: WritebackRuntime, chain: list[Claimed], done: queue.Queue[Delivered]
) -> None:
    """Deliver each message in turn, handing each outcome over as soon as it is known.

    An unexpected error is handed over instead of an outcome: that message is not
    recorded, stays in flight until its lease expires, and its next attempt's precheck
    finds whatever this one did; the pass raises the error once the others are recorded.
    """
    for item in chain:
        try:
            done.put((item, _deliver(runtime, item)))
        except Exception as error:  # noqa: BLE001 - handed over; the pass raises it
            done.put((item, error))


def _deliver(runtime: WritebackRuntime, item: Claimed) -> Outcome:
    with steps.delivering(
        tenant_id=item.tenant_id,
        message_id=item.id,
        system=item.system,
        operation=item.operation,
        payload=item.payload,
    ):
        started = time.perf_counter()
        outcome = _deliver_traced(runtime, item)
        METRICS.delivery(item.system, outcome.kind, seconds=time.perf_counter() - started)
        return outcome


def _deliver_traced(runtime: WritebackRuntime, item: Claimed) -> Outcome:
    try:
        operation = runtime.registry.get(item.system, item.operation)
    except ConfigurationError as error:
        return Outcome(kind=OutcomeKind.FAILED, error=error.message)
    return deliver(operation, runtime.connectors.for_tenant(item.tenant_id), item)


def _record(
    app: App,
    runtime: WritebackRuntime,
    delivered: list[tuple[Claimed, Outcome]],
    *,
    worker_id: str,
) -> Exception | None:
    """Record a group in one transaction; if that fails, each message in its own, so one
    bad message (a hook that raises) costs only its own record. The first error is
    returned for the pass to raise once every outcome has had its chance."""
    now = app.clock.now()
    finished = [
        Finished(
            item,
            outcome,
            decide(
                outcome, attempts=item.tries, policy=runtime.policy, now=now, rand=runtime.rand()
            ),
        )
        for item, outcome in delivered
    ]
    if len(finished) > 1:
        try:
            _record_in_one_transaction(app, runtime, finished, worker_id=worker_id, now=now)
            return None
        except Exception:
            log.warning(
                "recording %d outbox messages together failed", len(finished), exc_info=True
            )
    failure: Exception | None = None
    for one in finished:
        try:
            _record_in_one_transaction(app, runtime, [one], worker_id=worker_id, now=now)
        except Exception as error:
            log.exception("recording outbox message %s failed", one.claimed.id)
            failure = failure or error
    return failure


def _record_in_one_transaction(
    app: App,
    runtime: WritebackRuntime,
    finished: list[Finished],
    *,
    worker_id: str,
    now: datetime,
) -> None:
    tenant_id = finished[0].claimed.tenant_id
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        kept = record_outcomes(
            uow,
            finished,
            worker_id=worker_id,
            now=now,
            on_conflict=runtime.on_conflict,
            on_settled=runtime.on_settled,
        )
        uow.commit()
    for item, ours in zip(finished, kept, strict=True):
        if not ours:
            log.warning("lease on outbox message %s was lost while delivering it", item.claimed.id)


def _summary(registry: Registry, row: OutboxMessage) -> dict[str, object]:
    try:
        fields = registry.get(row.system, row.operation).summary_fields
    except ConfigurationError:
        fields = ()
    return request_summary(
        fields,
        system=row.system,
        operation=row.operation,
        idempotency_key=row.idempotency_key,
        payload=dict(row.payload),
    )


def open_messages(app: App) -> int:
    """Messages whose effect may still happen, across tenants (for draining and tests)."""
    total = 0
    for tenant_id in tenant_ids(app.sessions):
        with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
            total += (
                uow.session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        OutboxMessage.tenant_id == tenant_id,
                        OutboxMessage.status.in_([str(s) for s in OPEN]),
                    )
                )
                or 0
            )
    return total


def run_forever(
    app: App,
    *,
    worker_id: str,
    stop: threading.Event,
    interval: float,
    runtime: WritebackRuntime | None = None,
) -> None:
    """Pass after pass until ``stop``; a pass that found work is followed at once by another."""
    while not stop.is_set():
        try:
            handled = run_writeback_once(app, worker_id=worker_id, runtime=runtime)
        except Exception:
            log.exception("writeback pass failed")
            handled = 0
        if handled == 0:
            stop.wait(interval)
