"""Time-based sweeps: judge the orders whose next deadline has come, and silent sources.

Sweeps read state, not timers kept in memory, so a restart misses nothing: whatever
became due while the worker was down is found on its next pass. Each order carries
``next_check_at`` (left by its last evaluation), so a pass touches only the orders a
deadline is waiting on, never the whole order book.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from orderops.cases.cases import CaseEvent
from orderops.detect.delay_predicted import ShipmentDelayPredictedDetector
from orderops.detect.registry import DETECTORS
from orderops.detect.silence import (
    HOURS_A_DAY,
    SOURCE_PREFIX,
    SourceActivity,
    judge_source,
    silence_order_ref,
)
from orderops.detect.thresholds import DetectorConfig
from orderops.detect.verdict import Detector, Verdict
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import Clock
from orderops.domain.statuses import FinancialStatus, FulfillmentStatus, OrderStatus
from orderops.resolve.policy_in_force import policy_in_force
from orderops.storage.repositories.loaded import LoadedRows, remember_rows
from orderops.storage.repositories.prefetch import ChunkReads
from orderops.storage.tables import InboxEvent, Order
from orderops.storage.transient import transient_kind
from orderops.storage.uow import UnitOfWork
from orderops.workflow.detection import apply_verdict, detector_config, evaluate_order, snapshot
from orderops.workflow.pipeline import process_pending
from orderops.workflow.shadow_judge import (
    RunningShadow,
    judge_in_shadow,
    judge_source_in_shadow,
    running_shadow,
)

log = logging.getLogger(__name__)


def sweep(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    clock: Clock,
    batch: int = 200,
    detectors: Sequence[Detector] = DETECTORS,
) -> list[CaseEvent]:
    """One pass: every order due by now, then every source's silence, for one tenant.

    A sweep judges settled state only: it first applies whatever is pending in the inbox
    (in replay order), and judges under the tenant's processing lock, so it never sees an
    order with its news still unread nor one half-way through a chunk. Otherwise whether
    a parcel looked stuck would depend on whether the sweep ran before or after its scan
    was processed.

    A running shadow candidate judges each swept order beside the live judgement
    (``workflow/shadow_judge.py``), so its time-based cases are recorded too.

    A batch of due orders is judged like a processing chunk: their lines, records, cases,
    stock and the policy are loaded first in a few IN-queries and kept for the batch
    (``storage/repositories/loaded.py``; the sweep holds the processing lock, as a chunk
    does), instead of a dozen queries per order.
    """
    changes = process_pending(sessions, tenant_id=tenant_id, clock=clock)
    seen: set[str] = set()
    while True:
        with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
            uow.inbox.lock_processing()
            now = clock.now()
            config = detector_config(uow)
            due = [
                o for o in _due_orders(uow, now=now, limit=batch + len(seen)) if o.id not in seen
            ]
            shadow = running_shadow(uow)
            if not due:
                changes += sweep_sources(uow, now=now, config=config, shadow=shadow)
                uow.commit()
                return changes
            with remember_rows(uow.session, tenant_id) as loaded:
                _load_ahead(uow, loaded, due[:batch])
                _prime(uow, detectors, due[:batch], now=now, config=config)
                for order in due[:batch]:
                    seen.add(order.id)
                    changes += evaluate_order(
                        uow, order, now=now, from_sweep=True, detectors=detectors, config=config
                    )
                    if shadow is not None:
                        judge_in_shadow(
                            uow,
                            shadow,
                            order,
                            now=now,
                            inbox_id=None,
                            from_sweep=True,
                            detectors=detectors,
                        )
            uow.commit()


def sweep_late_orders(
    sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock, batch: int = 200
) -> list[CaseEvent]:
    """The name callers used when lateness was the only time-based rule; runs ``sweep``."""
    return sweep(sessions, tenant_id=tenant_id, clock=clock, batch=batch)


def _load_ahead(uow: UnitOfWork, loaded: LoadedRows, orders: Sequence[Order]) -> None:
    """What judging ``orders`` reads, in a few set-based reads (as ``resolve/prefetch.py``
    does for a chunk), in a savepoint: it only saves queries, so if it fails for any
    reason but a transient one the orders are judged reading one by one."""
    reads = ChunkReads(uow.session, loaded)
    try:
        with uow.session.begin_nested():
            reads.records_of_orders({order.order_ref for order in orders})
            reads.cases({order.id for order in orders})
            reads.stock({line.sku for order in orders for line in order.lines})
            policy_in_force(uow)
    except Exception as exc:
        if transient_kind(exc) is not None:
            raise
        log.exception("loading a sweep's rows ahead failed; its orders read them one by one")


def _prime(
    uow: UnitOfWork,
    detectors: Sequence[Detector],
    orders: Sequence[Order],
    *,
    now: datetime,
    config: DetectorConfig,
) -> None:
    """The predicted-delay detector scores the batch's parcels in one model call before
    its orders are judged one by one (``ShipmentDelayPredictedDetector.prime``): the same
    scores, without a call of a few milliseconds per order."""
    primed = [
        d
        for d in detectors
        if isinstance(d, ShipmentDelayPredictedDetector)
        and d.scorer is not None
        and config.enabled(d.exception_type)
    ]
    if not primed:
        return
    facts = [snapshot(uow, o) for o in orders if not o.order_ref.startswith(SOURCE_PREFIX)]
    for detector in primed:
        detector.prime(facts, now=now)


def _due_orders(uow: UnitOfWork, *, now: datetime, limit: int) -> Sequence[Order]:
    return uow.session.scalars(
        select(Order)
        .options(selectinload(Order.lines))
        .where(
            Order.tenant_id == uow.tenant_id,
            Order.next_check_at.is_not(None),
            Order.next_check_at <= now,
        )
        .order_by(Order.next_check_at, Order.id)
        .limit(limit)
    ).all()


def source_activity(uow: UnitOfWork, *, lookback: timedelta) -> list[SourceActivity]:
    """Per source: its last event and how many arrived in the lookback before it."""
    lasts = uow.session.execute(
        select(InboxEvent.source, func.max(InboxEvent.event_time))
        .where(InboxEvent.tenant_id == uow.tenant_id)
        .group_by(InboxEvent.source)
        .order_by(InboxEvent.source)
    ).all()
    activity = []
    for source, last in lasts:
        count, first = uow.session.execute(
            select(func.count(), func.min(InboxEvent.event_time)).where(
                InboxEvent.tenant_id == uow.tenant_id,
                InboxEvent.source == source,
                InboxEvent.event_time >= last - lookback,
            )
        ).one()
        activity.append(
            SourceActivity(
                source=source,
                last_event_at=last,
                events_in_lookback=count,
                first_in_lookback=first,
                by_hour=_by_hour(uow, source, since=last - lookback),
            )
        )
    return activity


def _by_hour(uow: UnitOfWork, source: str, *, since: datetime) -> tuple[int, ...]:
    """The source's events since ``since`` per UTC hour of the day."""
    stamp: Any = InboxEvent.event_time
    if uow.session.get_bind().dialect.name == "postgresql":
        stamp = func.timezone("UTC", stamp)  # the session's zone must not move the hours
    hour = extract("hour", stamp)
    counts = [0] * HOURS_A_DAY
    for at_hour, count in uow.session.execute(
        select(hour, func.count())
        .where(
            InboxEvent.tenant_id == uow.tenant_id,
            InboxEvent.source == source,
            InboxEvent.event_time >= since,
        )
        .group_by(hour)
    ):
        counts[int(at_hour)] = int(count)
    return tuple(counts)


def sweep_sources(
    uow: UnitOfWork, *, now: datetime, config: DetectorConfig, shadow: RunningShadow | None = None
) -> list[CaseEvent]:
    """Open or resolve ``integration_silence`` cases, one per source (a synthetic order);
    a running shadow candidate judges each source with its own thresholds beside live."""
    kind = ExceptionType.INTEGRATION_SILENCE
    changes: list[CaseEvent] = []
    activities: dict[float, list[SourceActivity]] = {}

    def judged(thresholds: dict[str, float]) -> list[tuple[SourceActivity, Verdict]]:
        lookback = thresholds["lookback_days"]
        if lookback not in activities:
            activities[lookback] = source_activity(uow, lookback=timedelta(days=lookback))
        return [(a, judge_source(a, now=now, thresholds=thresholds)) for a in activities[lookback]]

    if config.enabled(kind):
        for activity, verdict in judged(config.thresholds(kind)):
            order = _stand_in(uow, activity.source, now=now, create=verdict.detected)
            if order is None:
                continue
            cases = uow.cases.by_type_for_order(order.id)
            changes += apply_verdict(
                uow, order, verdict, cases=cases, now=now, inbox_id=None, may_open=True
            )
    if shadow is not None and shadow.config.enabled(kind):
        for activity, verdict in judged(shadow.config.thresholds(kind)):
            order = _stand_in(uow, activity.source, now=now, create=verdict.detected)
            if order is not None:
                judge_source_in_shadow(uow, shadow, order, verdict, now=now)
    return changes


def _stand_in(uow: UnitOfWork, source: str, *, now: datetime, create: bool) -> Order | None:
    """The source's stand-in order; made when a verdict needs it (live's or the shadow
    candidate's: the one live row shadow mode may add, closed, empty and never swept, as
    live adds it the first time the source falls silent)."""
    ref = silence_order_ref(source)
    order = uow.commerce.order_by_ref(ref)
    if order is None and create:
        order = _source_order(uow, source, ref=ref, now=now)
    return order


def _source_order(uow: UnitOfWork, source: str, *, ref: str, now: datetime) -> Order:
    """The stand-in order a source's cases hang on: closed, empty, never swept."""
    assert ref.startswith(SOURCE_PREFIX)
    order = Order(
        order_ref=ref,
        number=None,
        source=source,
        status=OrderStatus.CLOSED,
        financial_status=FinancialStatus.PENDING,
        fulfillment_status=FulfillmentStatus.UNFULFILLED,
        currency="XXX",
        total_minor=0,
        placed_at=now,
        source_updated_at=now,
        created_at=now,
        updated_at=now,
    )
    uow.commerce.add(order)
    uow.commerce.flush()
    return order
