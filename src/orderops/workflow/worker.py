"""The worker loop. Accepting only stores events, so this is where they are processed.

One loop drains the inbox: every ``inbox_poll_seconds`` (and at once when an accept in
its own process announces new rows) it processes the tenants with pending events.
Another, on its own thread, runs a full pass every ``sweep_interval_seconds``: it also
runs time sweeps, fires due timers, refreshes SLA jeopardy, closes finished incidents,
recommends fixes for new cases, expires stale approval requests, notifies customers
proactively (workflow/notifications.py), reads back bounced customer emails
(workflow/message_bounces.py), delivers due writebacks,
once a day reads back what was delivered (workflow/reconciliation.py) and, once an
hour, moves inbox rows and raw deliveries past the tenant's retention window to the
archive (workflow/retention.py). A third thread runs the backtests requested over the API
or the console (workflow/backtest_requests.py), one at a time, each claimed under a lease.

Any number of workers may run: a tenant's inbox is processed by one worker at a time
(a transaction-scoped advisory lock on PostgreSQL; a worker that finds a tenant busy goes
on to the next one rather than waiting), outbox messages are claimed (SKIP LOCKED), timers
are rows fired once, and sweeps are idempotent (the unique open-case index holds whatever
two sweeps race on). SQLite has one writer at a time, so there extra workers only wait.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import ParamSpec, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from orderops.bootstrap import App
from orderops.cases.cases import CaseEvent
from orderops.cases.incidents import close_finished_incidents
from orderops.cases.jeopardy import refresh_jeopardy
from orderops.cases.sla import fire_due_timers
from orderops.decide.approvals import expire_due
from orderops.decide.holds import release_due as release_due_holds
from orderops.detect.model_registry_scoring import tenant_detectors
from orderops.detect.registry import DETECTORS
from orderops.evidence.service import default_store
from orderops.ingest import arrivals
from orderops.recommend.auto import recommend_new_cases
from orderops.recommend.llm import LlmSettings
from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.sqlite_writers import in_background
from orderops.storage.tenant_lookups import tenants_with_inbox_status
from orderops.storage.uow import tenant_ids
from orderops.workflow.backtest_requests import run_next as run_next_backtest
from orderops.workflow.inbox_wakeups import STOP_CHECK_SECONDS, start_listening
from orderops.workflow.message_bounces import read_bounces_if_due
from orderops.workflow.notifications import notify_customers
from orderops.workflow.pipeline import process_pending, process_turn
from orderops.workflow.reconciliation import reconcile_if_due
from orderops.workflow.retention import retention_due, run_retention
from orderops.workflow.sweeps import sweep
from orderops.workflow.writeback_worker import run_writeback_once, runtime_for

log = logging.getLogger(__name__)
RETENTION_BATCHES_PER_PASS = 20
"""Batches of 1,000 rows per tenant a pass may move: a year of backlog drains over hours
of passes instead of stalling one."""
JEOPARDY_EVERY = timedelta(minutes=1)
"""How often a process refreshes SLA tiers: display state on a clock of minutes (the
shortest response window is an hour, its at-risk share 15 minutes), read from every open
case whose clock runs, which at 100k open cases is half a second of database time; the
full pass comes every few seconds."""
TURN_CHUNKS = 5
"""Chunks (of 100 events) a tenant's turn at the inbox may take before the next tenant's."""
WRITEBACK_POLL = 1.0
"""Seconds between the writeback loop's claims: an approved refund leaves within about a
second, and an idle desk does not open a claiming transaction per tenant four times a
second."""
P = ParamSpec("P")
R = TypeVar("R")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def run_once(
    app: App, *, worker_id: str | None = None, drain: bool = True, writeback: bool = True
) -> list[CaseEvent]:
    """One pass over every tenant; a step that fails is logged and the pass goes on.

    One tenant's bad state or one failing step must not stop the pass for the other
    tenants, nor the other steps of that tenant: each step runs in its own transactions
    and is simply tried again on the next pass. ``run_forever`` passes ``drain=False``
    and ``writeback=False``: its own loops do those, so that neither waits behind the
    other (a backlog drained inside the pass held an approved refund back for as long as
    the backlog lasted).
    """
    changes: list[CaseEvent] = []
    sessions, clock = app.sessions, app.clock
    retain = retention_due(app.ran_at.get("retention"), now=clock.now())
    if retain:
        app.ran_at["retention"] = clock.now()
    llm = LlmSettings()  # the model drafts for new cases when ORDEROPS_LLM_ENABLED is set
    for tenant in tenant_ids(sessions):
        if drain:
            changes += _drain_tenant(app, tenant)
        # The predicted-delay detector scores with the tenant's promoted model, else the
        # shipped default (detect/model_registry_scoring.py); without it, it stays silent.
        detectors = (
            _guarded(tenant, tenant_detectors, sessions, tenant_id=tenant, now=clock.now())
            or DETECTORS
        )
        changes += (
            _guarded(tenant, sweep, sessions, tenant_id=tenant, clock=clock, detectors=detectors)
            or []
        )
        _guarded(tenant, fire_due_timers, sessions, tenant_id=tenant, clock=clock)
        if _due(app, f"jeopardy:{tenant}", every=JEOPARDY_EVERY):
            _guarded(tenant, refresh_jeopardy, sessions, tenant_id=tenant, clock=clock)
        _guarded(tenant, close_finished_incidents, sessions, tenant_id=tenant, clock=clock)
        _guarded(
            tenant, recommend_new_cases, sessions, tenant_id=tenant, clock=clock, llm_settings=llm
        )
        evidence = default_store(app.settings)
        _guarded(tenant, expire_due, sessions, tenant_id=tenant, clock=clock, evidence=evidence)
        _guarded(tenant, release_due_holds, sessions, tenant_id=tenant, clock=clock)
        _guarded(tenant, notify_customers, sessions, tenant_id=tenant, clock=clock)
        pool = runtime_for(app).connectors
        _guarded(tenant, read_bounces_if_due, sessions, pool, tenant_id=tenant, clock=clock)
        _guarded(tenant, reconcile_if_due, sessions, pool, tenant_id=tenant, clock=clock)
        if retain:
            _guarded(
                tenant,
                run_retention,
                sessions,
                tenant_id=tenant,
                clock=clock,
                max_batches=RETENTION_BATCHES_PER_PASS,
                evidence=evidence,
            )
    if writeback:
        _guarded(None, run_writeback_once, app, worker_id=worker_id or default_worker_id())
    return changes


def drain_inbox(app: App, *, turn_chunks: int = TURN_CHUNKS) -> list[CaseEvent]:
    """Process the pending events of every tenant that has some, and nothing else: a turn
    of ``turn_chunks`` chunks each, in rounds, until no tenant has more.

    Each round asks again which tenants have events waiting, so a tenant whose first
    events arrive while another works through a backlog (or keeps flooding) waits for
    one round, not for the backlog. A tenant another worker holds is left to it."""
    changes: list[CaseEvent] = []
    while True:
        more = False
        for tenant in tenants_with_pending(app.sessions):
            turn = _guarded(
                tenant,
                process_turn,
                app.sessions,
                tenant_id=tenant,
                clock=app.clock,
                chunks=turn_chunks,
            )
            if turn is not None:
                changes += turn.changes
                more = more or turn.more
        if not more:
            return changes


def _drain_tenant(app: App, tenant: str) -> list[CaseEvent]:
    drained = _guarded(
        tenant,
        process_pending,
        app.sessions,
        tenant_id=tenant,
        clock=app.clock,
        wait_for_lock=False,
    )
    return drained or []


def tenants_with_pending(sessions: sessionmaker[Session]) -> list[str]:
    """Tenants whose inbox holds pending rows (the inbox's status index answers this); it
    reads across tenants, through ``storage/tenant_lookups.py``."""
    return tenants_with_inbox_status(sessions, InboxStatus.PENDING)


def _guarded(
    tenant: str | None, step: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
) -> R | None:
    """Run one step of a pass; log what it raises and answer None instead."""
    try:
        return step(*args, **kwargs)
    except Exception:
        log.exception("worker step %s failed (tenant %s); going on", step.__name__, tenant)
        return None


def _due(app: App, job: str, *, every: timedelta) -> bool:
    """Whether ``job`` is due on this process (``every`` since its last run); if so, it
    counts as run now."""
    now, last = app.clock.now(), app.ran_at.get(job)
    if last is not None and now - last < every:
        return False
    app.ran_at[job] = now
    return True


def run_forever(
    app: App,
    *,
    stop: threading.Event,
    interval: float,
    on_changes: Callable[[list[CaseEvent]], None] | None = None,
    poll: float | None = None,
) -> None:
    """Inbox drains every ``poll`` seconds (or at once when an accept in this process,
    or on PostgreSQL in any process, wakes it: ``inbox_wakeups.py``); on threads of their
    own, writeback deliveries every ``WRITEBACK_POLL`` seconds, full passes every ``interval``
    seconds, and queued backtests (looked for every ``interval`` seconds, run one after
    another while any waits), until ``stop``; nothing a pass or a listener raises ends any
    loop. A backtest replays for minutes on its own thread, so it holds back no pass.

    The loops are separate so that none waits behind another: a long full pass (a sweep
    over many orders, the recommendations for a backlog of cases) never holds back the
    events waiting to become cases, and a backlog of events never holds back a refund a
    reviewer approved. They share nothing but the database, where the tenant lock (or
    SQLite's single writer) keeps each event processed once and the outbox's claims keep
    each effect delivered once.
    """
    worker_id = default_worker_id()
    poll = min(poll or app.settings.inbox_poll_seconds, interval)
    in_background()  # on SQLite, a request waiting to write goes before the next chunk
    loops = [
        threading.Thread(
            target=_every,
            args=(stop, interval, lambda: _full_pass(app, worker_id), on_changes),
            name="orderops-full-pass",
            daemon=True,
        ),
        threading.Thread(
            target=_every,
            args=(stop, WRITEBACK_POLL, lambda: _deliver_writebacks(app, worker_id), None),
            name="orderops-writeback",
            daemon=True,
        ),
        threading.Thread(
            target=_every,
            args=(stop, interval, lambda: _run_backtests(app, worker_id, stop), None),
            name="orderops-backtests",
            daemon=True,
        ),
    ]
    for loop in loops:
        loop.start()
    listening = start_listening(app.engine, stop)
    try:
        while not stop.is_set():
            _step(lambda: drain_inbox(app), on_changes)
            _until_arrival_or_stop(poll, stop)
    finally:
        for loop in loops:
            loop.join()
        if listening is not None:
            listening.join()


def _until_arrival_or_stop(poll: float, stop: threading.Event) -> None:
    """Wait for an arrival, ``poll`` seconds at most, looking at ``stop`` every
    ``STOP_CHECK_SECONDS``: a worker told to stop waited out its whole poll (30 s) first."""
    deadline = time.monotonic() + poll
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0 or arrivals.wait(min(left, STOP_CHECK_SECONDS)):
            return


def _full_pass(app: App, worker_id: str) -> list[CaseEvent]:
    return run_once(app, worker_id=worker_id, drain=False, writeback=False)


def _deliver_writebacks(app: App, worker_id: str) -> list[CaseEvent]:
    """Deliver due writebacks until none is left due (a pass handles one batch per tenant)."""
    while run_writeback_once(app, worker_id=worker_id):
        pass
    return []


def _run_backtests(app: App, worker_id: str, stop: threading.Event) -> list[CaseEvent]:
    """Run queued backtests one at a time until none waits (or the worker stops)."""
    while not stop.is_set() and run_next_backtest(app, worker_id=worker_id) is not None:
        pass
    return []


def _every(
    stop: threading.Event,
    interval: float,
    step: Callable[[], list[CaseEvent]],
    on_changes: Callable[[list[CaseEvent]], None] | None,
) -> None:
    in_background()
    while not stop.is_set():
        _step(step, on_changes)
        stop.wait(interval)


def _step(
    step: Callable[[], list[CaseEvent]],
    on_changes: Callable[[list[CaseEvent]], None] | None,
) -> None:
    try:
        changes = step()
        if changes and on_changes:
            on_changes(changes)
    except Exception:
        log.exception("worker pass failed; retrying after the interval")
