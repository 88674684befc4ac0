"""Time-based sweeps: judge the orders whose next deadline has come, and silent sources.

Sweeps read state, not timers kept in memory, so a restart misses nothing: whatever
became due while the worker was down is found on its next pass. Each order carries
``next_check_at`` (left by its last evaluation), so a pass touches only the orders a
deadline is waiting on, never the whole order book.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import CaseEvent
from orderops.detect.registry import DETECTORS
from orderops.detect.silence import (
    HOURS_A_DAY,
    SOURCE_PREFIX,
    SourceActivity,
    judge_source,
    silence_order_ref,
)
from orderops.detect.thresholds import DetectorConfig
from orderops.detect.verdict import Detector
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import Clock
from orderops.domain.statuses import FinancialStatus, FulfillmentStatus, OrderStatus
from orderops.storage.tables import InboxEvent, Order
from orderops.storage.uow import UnitOfWork
from orderops.workflow.detection import apply_verdict, detector_config, evaluate_order
from orderops.workflow.pipeline import process_pending
from orderops.workflow.shadow_judge import judge_in_shadow, running_shadow


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
            if not due:
                changes += sweep_sources(uow, now=now, config=config)
                uow.commit()
                return changes
            shadow = running_shadow(uow)
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


def _due_orders(uow: UnitOfWork, *, now: datetime, limit: int) -> Sequence[Order]:
    return uow.session.scalars(
        select(Order)
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


def sweep_sources(uow: UnitOfWork, *, now: datetime, config: DetectorConfig) -> list[CaseEvent]:
    """Open or resolve ``integration_silence`` cases, one per source (a synthetic order)."""
    kind = ExceptionType.INTEGRATION_SILENCE
    if not config.enabled(kind):
        return []
    thresholds = config.thresholds(kind)
    lookback = timedelta(days=thresholds["lookback_days"])
    changes: list[CaseEvent] = []
    for activity in source_activity(uow, lookback=lookback):
        verdict = judge_source(activity, now=now, thresholds=thresholds)
        ref = silence_order_ref(activity.source)
        order = uow.commerce.order_by_ref(ref)
        if order is None:
            if not verdict.detected:
                continue
            order = _source_order(uow, activity.source, ref=ref, now=now)
        cases = uow.cases.by_type_for_order(order.id)
        changes += apply_verdict(
            uow, order, verdict, cases=cases, now=now, inbox_id=None, may_open=True
        )
    return changes


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
