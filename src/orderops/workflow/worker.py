"""The worker loop: for every tenant, drain pending inbox events, run time sweeps, fire due
timers, refresh SLA jeopardy, close finished incidents, recommend fixes for new cases,
expire stale approval requests, and deliver due writebacks.

Any number of workers may run: inbox rows and outbox messages are claimed (SKIP LOCKED on
PostgreSQL, serialised writers on SQLite), timers are rows fired once, and sweeps are
idempotent (the unique open-case index holds whatever two sweeps race on).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from orderops.bootstrap import App
from orderops.evidence.service import default_store
from orderops.recommend.auto import recommend_new_cases
from orderops.storage.uow import tenant_ids
from orderops.workflow.approvals import expire_due
from orderops.workflow.cases import CaseEvent
from orderops.workflow.incidents import close_finished_incidents
from orderops.workflow.jeopardy import refresh_jeopardy
from orderops.workflow.pipeline import process_pending
from orderops.workflow.sla import fire_due_timers
from orderops.workflow.sweeps import detectors_for, sweep
from orderops.writeback.worker import run_writeback_once

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def run_once(app: App, *, worker_id: str | None = None) -> list[CaseEvent]:
    changes: list[CaseEvent] = []
    for tenant_id in tenant_ids(app.sessions):
        changes += process_pending(app.sessions, tenant_id=tenant_id, clock=app.clock)
        changes += sweep(
            app.sessions,
            tenant_id=tenant_id,
            clock=app.clock,
            detectors=detectors_for(app.settings.data_dir / "models"),
        )
        fire_due_timers(app.sessions, tenant_id=tenant_id, clock=app.clock)
        refresh_jeopardy(app.sessions, tenant_id=tenant_id, clock=app.clock)
        close_finished_incidents(app.sessions, tenant_id=tenant_id, clock=app.clock)
        recommend_new_cases(app.sessions, tenant_id=tenant_id, clock=app.clock)
        expire_due(
            app.sessions,
            tenant_id=tenant_id,
            clock=app.clock,
            evidence=default_store(app.settings),
        )
    run_writeback_once(app, worker_id=worker_id or default_worker_id())
    return changes


def run_forever(
    app: App,
    *,
    stop: threading.Event,
    interval: float,
    on_changes: Callable[[list[CaseEvent]], None] | None = None,
) -> None:
    worker_id = default_worker_id()
    while not stop.is_set():
        try:
            changes = run_once(app, worker_id=worker_id)
        except Exception:
            log.exception("worker pass failed; retrying after the interval")
        else:
            if changes and on_changes:
                on_changes(changes)
        stop.wait(interval)
