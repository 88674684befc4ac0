"""The writeback worker: lease due outbox messages, deliver them, record what happened.

``orderops worker`` calls ``run_writeback_once`` each pass. One pass serves every tenant:
a short claiming transaction, delivery outside any transaction, then one recording
transaction per message. Any number of workers (threads or processes) may run at once;
give each its own ``worker_id``, because a lease is only as exclusive as that id.
"""

from __future__ import annotations

import logging
import random
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from orderops.bootstrap import App
from orderops.domain.errors import ConfigurationError
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.writeback import WritebackAttempt  # noqa: F401 - table metadata
from orderops.storage.uow import UnitOfWork, tenant_ids
from orderops.workflow.execution import on_action_message_settled, on_message_claimed
from orderops.writeback.claims import ClaimedHook, claim_due
from orderops.writeback.conflicts import ConflictHook, send_back_for_review
from orderops.writeback.connections import ConnectorPool, WritebackSettings
from orderops.writeback.connectors.base import BreakerKey, BreakerState
from orderops.writeback.delivery import Claimed, deliver, request_summary
from orderops.writeback.outcomes import Outcome, OutcomeKind, decide
from orderops.writeback.policy import DeliveryPolicy
from orderops.writeback.registry import Registry, default_registry
from orderops.writeback.results import SettledHook, record_outcome
from orderops.writeback.sagas import on_message_settled
from orderops.writeback.states import OPEN

log = logging.getLogger(__name__)


def settle_message(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
    """The default settled hook: advance the message's saga, then conclude its action (and
    move the action's case: resolved when all is delivered, failed otherwise)."""
    on_message_settled(uow, message, now)
    on_action_message_settled(uow, message, now)


@dataclass
class WritebackRuntime:
    """What a worker needs beyond the app: connectors, operations, pacing and hooks."""

    connectors: ConnectorPool
    registry: Registry = field(default_factory=default_registry)
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    on_conflict: ConflictHook = send_back_for_review
    on_settled: SettledHook = settle_message
    on_claimed: ClaimedHook = on_message_claimed
    rand: Callable[[], float] = random.random

    def systems(self) -> frozenset[str]:
        """Systems both configured and known to the registry; others stay queued."""
        return self.connectors.settings.configured_systems() & self.registry.systems()

    def close(self) -> None:
        self.connectors.close()


_runtimes: dict[int, WritebackRuntime] = {}
_runtimes_lock = threading.Lock()


def runtime_for(app: App) -> WritebackRuntime:
    """The app's runtime from ``ORDEROPS_WRITEBACK_*``, built once and closed with the app."""
    key = id(app)
    with _runtimes_lock:
        runtime = _runtimes.get(key)
        if runtime is None:
            pool = ConnectorPool(WritebackSettings(), clock=app.clock)
            runtime = WritebackRuntime(connectors=pool)
            _runtimes[key] = runtime
            weakref.finalize(app, _forget, key)
        return runtime


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
    )


def deliver_due(app: App, runtime: WritebackRuntime, *, tenant_id: str, worker_id: str) -> int:
    systems = [
        system
        for system in runtime.systems()
        if runtime.connectors.breaker.state(BreakerKey(system, tenant_id)) is not BreakerState.OPEN
    ]
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
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
    for item in claimed:
        outcome = _deliver(runtime, item)
        _record(app, runtime, item, outcome, worker_id=worker_id)
    return len(claimed)


def _deliver(runtime: WritebackRuntime, item: Claimed) -> Outcome:
    try:
        operation = runtime.registry.get(item.system, item.operation)
    except ConfigurationError as error:
        return Outcome(kind=OutcomeKind.FAILED, error=error.message)
    return deliver(operation, runtime.connectors.for_tenant(item.tenant_id), item)


def _record(
    app: App, runtime: WritebackRuntime, item: Claimed, outcome: Outcome, *, worker_id: str
) -> None:
    now = app.clock.now()
    decision = decide(
        outcome, attempts=item.tries, policy=runtime.policy, now=now, rand=runtime.rand()
    )
    with UnitOfWork(app.sessions, tenant_id=item.tenant_id) as uow:
        kept = record_outcome(
            uow,
            item,
            outcome,
            decision,
            worker_id=worker_id,
            now=now,
            on_conflict=runtime.on_conflict,
            on_settled=runtime.on_settled,
        )
        uow.commit()
    if not kept:
        log.warning("lease on outbox message %s was lost while delivering it", item.id)


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
