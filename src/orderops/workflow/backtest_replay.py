"""Driving a desk through recorded events on a simulated clock, as the worker would have.

Events are taken in the order they were received, a *tick* at a time: every event of a
tick is accepted and processed together (the intake's checks and rows, written in one
statement as an import writes them, ``ingest/bulk_intake.py``; then the pipeline the
worker runs, ``process_many``, with its own replay order) at the time the tick's last
event arrived. Between ticks the worker's sweep pass runs on the
hour marks of the simulated clock (``Pace.sweep_every``): time sweeps, SLA timers,
jeopardy, incidents, recommendations, approval expiry, hold release and customer notices.
What the pass leaves out is what would reach outside: writeback delivery, bounce
read-back and reconciliation (they call vendors), and retention (it only moves rows).

A recorded run played back with the same pace at the same times gives the same ticks and
the same clock readings, so the same events give the same cases, opened at the same
times: the backtest's baseline reproduces the live run, and a candidate's differences
are the policy's, not the replay's.

With ``accept_recommendations`` every new recommendation is applied as a reviewer who
accepts them all would (``workflow/recommendation_apply.py``, as the service identity
``backtest``): the approval policy then judges each proposed action, auto-approves what
its rules allow and writes outbox rows for them, which is "what would have moved". Those
rows are never delivered here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from orderops.bootstrap import App
from orderops.cases.cases import record
from orderops.cases.incidents import close_finished_incidents
from orderops.cases.jeopardy import refresh_jeopardy
from orderops.cases.sla import fire_due_timers
from orderops.decide.actions import get_case
from orderops.decide.approvals import expire_due
from orderops.decide.holds import release_due as release_due_holds
from orderops.detect.model_registry_scoring import tenant_detectors
from orderops.domain.clock import FixedClock
from orderops.domain.errors import OrderOpsError
from orderops.domain.roles import Role
from orderops.evidence.service import default_store
from orderops.ingest.bulk_intake import Refusal, check_item, dead_letter, write_batch
from orderops.recommend.auto import recommend_new_cases
from orderops.storage.repositories.inbox_bulk import PendingRow
from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.tables import CaseTimelineEntry, DeadLetter, InboxEvent
from orderops.storage.tables.recommend import Recommendation
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.workflow.backtest_scratch import PolicyTimeline
from orderops.workflow.notifications import notify_customers
from orderops.workflow.pipeline import process_many
from orderops.workflow.recommendation_apply import APPLIED, apply_recommendation
from orderops.workflow.sweeps import sweep

log = logging.getLogger(__name__)

REVIEWER = "backtest"
CHANNEL = "backtest"
EPOCH = datetime(2000, 1, 3, tzinfo=UTC)
"""Ticks and sweep marks count from here (a Monday, midnight UTC)."""


@dataclass(frozen=True)
class Recorded:
    """One stored event as the desk received it."""

    envelope: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True)
class Pace:
    sweep_every: timedelta = timedelta(hours=1)
    tick: timedelta = timedelta(minutes=5)
    accept_recommendations: bool = True

    def __post_init__(self) -> None:
        if self.tick <= timedelta(0) or self.sweep_every <= timedelta(0):
            raise ValueError("tick and sweep interval must be positive")
        if self.sweep_every % self.tick:
            raise ValueError("the sweep interval must be a whole number of ticks")


def drive(
    app: App,
    *,
    tenant_id: str,
    recorded: Iterable[Recorded],
    clock: FixedClock,
    until: datetime,
    pace: Pace = Pace(),
    timeline: PolicyTimeline | None = None,
) -> int:
    """Feed ``recorded`` (in order received) through the desk; return the events fed.

    Sweeps run at every mark from the first event's until ``until``; the clock is left
    at ``until``. The ``timeline``'s policy versions are put in force as the clock
    reaches them, before the events and sweeps of that moment. The delay model predicts
    one order at a time here, where its thread pool costs far more than the prediction
    (0.6 s against 0.01 s a call on a busy 2-core machine), so the replay runs
    single-threaded, as model_registry_delay does.
    """
    with threadpool_limits(limits=1):
        return _drive(
            app,
            tenant_id=tenant_id,
            recorded=recorded,
            clock=clock,
            until=until,
            pace=pace,
            timeline=timeline or PolicyTimeline(tenant_id),
        )


def _drive(
    app: App,
    *,
    tenant_id: str,
    recorded: Iterable[Recorded],
    clock: FixedClock,
    until: datetime,
    pace: Pace,
    timeline: PolicyTimeline,
) -> int:
    batch: list[Recorded] = []
    next_sweep: datetime | None = None
    fed = 0
    for item in recorded:
        tick = _floor(item.received_at, pace.tick)
        if next_sweep is None:
            next_sweep = _floor(item.received_at, pace.sweep_every) + pace.sweep_every
        if batch and tick != _floor(batch[-1].received_at, pace.tick):
            fed += _feed(app, tenant_id, batch, clock, timeline)
            batch = []
        while tick >= next_sweep:
            fed += _feed(app, tenant_id, batch, clock, timeline)
            batch = []
            clock.set(next_sweep)
            timeline.put_in_force(app, clock.now())
            sweep_pass(app, tenant_id=tenant_id, clock=clock, pace=pace)
            next_sweep += pace.sweep_every
        batch.append(item)
    fed += _feed(app, tenant_id, batch, clock, timeline)
    while next_sweep is not None and next_sweep <= until:
        clock.set(next_sweep)
        timeline.put_in_force(app, clock.now())
        sweep_pass(app, tenant_id=tenant_id, clock=clock, pace=pace)
        next_sweep += pace.sweep_every
    clock.set(max(until, clock.now()))
    return fed


def sweep_pass(app: App, *, tenant_id: str, clock: FixedClock, pace: Pace = Pace()) -> None:
    """The worker's full pass for one tenant, minus every step that reaches a vendor."""
    sessions = app.sessions
    detectors = tenant_detectors(sessions, tenant_id=tenant_id, now=clock.now())
    sweep(sessions, tenant_id=tenant_id, clock=clock, detectors=detectors)
    fire_due_timers(sessions, tenant_id=tenant_id, clock=clock)
    refresh_jeopardy(sessions, tenant_id=tenant_id, clock=clock)
    close_finished_incidents(sessions, tenant_id=tenant_id, clock=clock)
    recommend_new_cases(sessions, tenant_id=tenant_id, clock=clock)
    evidence = default_store(app.settings)
    if pace.accept_recommendations:
        accept_recommendations(app, tenant_id=tenant_id, clock=clock)
    expire_due(sessions, tenant_id=tenant_id, clock=clock, evidence=evidence)
    release_due_holds(sessions, tenant_id=tenant_id, clock=clock)
    notify_customers(sessions, tenant_id=tenant_id, clock=clock)


def accept_recommendations(app: App, *, tenant_id: str, clock: FixedClock) -> int:
    """Apply every recommendation not applied yet, each in its own transaction; return how
    many were applied. One the desk refuses (a remedy already pending, no candidate, a
    closed case) is left, as a reviewer's refused press would be."""
    principal = Principal(
        tenant_id=tenant_id, role=Role.AGENT, name=REVIEWER, subject=f"service:{REVIEWER}"
    )
    evidence = default_store(app.settings)
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        waiting = list(
            uow.session.execute(
                select(Recommendation.id, Recommendation.case_id)
                .where(
                    Recommendation.tenant_id == tenant_id,
                    ~exists().where(
                        CaseTimelineEntry.tenant_id == tenant_id,
                        CaseTimelineEntry.case_id == Recommendation.case_id,
                        CaseTimelineEntry.kind.in_([APPLIED, _REFUSED]),
                    ),
                )
                .order_by(Recommendation.id)
            ).all()
        )
    applied = 0
    for recommendation_id, case_id in waiting:
        with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
            try:
                apply_recommendation(
                    uow,
                    case_id,
                    recommendation_id,
                    principal=principal,
                    now=clock.now(),
                    evidence=evidence,
                )
                applied += 1
            except OrderOpsError as exc:
                uow.rollback()
                _note_refused(uow, case_id, recommendation_id, exc, now=clock.now())
            uow.commit()
    return applied


_REFUSED = "backtest_refused"


def _note_refused(
    uow: UnitOfWork, case_id: str, recommendation_id: str, exc: Exception, *, now: datetime
) -> None:
    """A marker so the next pass does not press again; only ever in a scratch database."""
    log.debug("backtest: recommendation %s not applied: %s", recommendation_id, exc)
    record(
        uow,
        get_case(uow, case_id),
        at=now,
        actor=f"service:{REVIEWER}",
        kind=_REFUSED,
        summary=f"Recommendation not applied: {exc}"[:500],
        data={"recommendation_id": recommendation_id, "reason": type(exc).__name__},
    )


def _feed(
    app: App,
    tenant_id: str,
    batch: Sequence[Recorded],
    clock: FixedClock,
    timeline: PolicyTimeline,
) -> int:
    """Accept a tick's events and process them, as ``workflow/batch.ingest_items`` does,
    but stored with one statement (``ingest/bulk_intake.py``: the intake's checks and rows)
    instead of a round trip per event: a tick is a few events, and at a replay's thousands
    of ticks the per-event inserts were a tenth of its time."""
    if not batch:
        return 0
    clock.set(batch[-1].received_at)
    now = clock.now()
    timeline.put_in_force(app, now)
    rows: list[PendingRow] = []
    letters: list[DeadLetter] = []
    for item in batch:
        checked = check_item(item.envelope, tenant_id=tenant_id, received_at=now)
        if isinstance(checked, Refusal):
            letters.append(
                dead_letter(checked, tenant_id=tenant_id, channel=CHANNEL, received_at=now)
            )
        else:
            rows.append(checked)
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        write_batch(uow, rows, letters, channel=CHANNEL, now=now)
        # The rows this tick stored: pending and received now (a duplicate keeps the time
        # it was first received), the ids ``ingest_items`` hands to ``process_many``.
        accepted = list(
            uow.session.scalars(
                select(InboxEvent.id).where(
                    InboxEvent.tenant_id == tenant_id,
                    InboxEvent.status == InboxStatus.PENDING,
                    InboxEvent.received_at == now,
                )
            )
        )
        uow.commit()
    process_many(app.sessions, tenant_id=tenant_id, inbox_ids=accepted, clock=clock)
    return len(batch)


def _floor(at: datetime, step: timedelta) -> datetime:
    return at - (at - EPOCH) % step
