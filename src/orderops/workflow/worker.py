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
from typing import ParamSpec, TypeVar

from orderops.bootstrap import App
from orderops.detect.registry import DETECTORS
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
P = ParamSpec("P")
R = TypeVar("R")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def run_once(app: App, *, worker_id: str | None = None) -> list[CaseEvent]:
    """One pass over every tenant; a step that fails is logged and the pass goes on.

    One tenant's bad state or one failing step must not stop the pass for the other
    tenants, nor the other steps of that tenant: each step runs in its own transactions
    and is simply tried again on the next pass.
    """
    changes: list[CaseEvent] = []
    detectors = _guarded(None, detectors_for, app.settings.data_dir / "models") or DETECTORS
    sessions, clock = app.sessions, app.clock
    for tenant in tenant_ids(sessions):
        changes += _guarded(tenant, process_pending, sessions, tenant_id=tenant, clock=clock) or []
        changes += (
            _guarded(tenant, sweep, sessions, tenant_id=tenant, clock=clock, detectors=detectors)
            or []
        )
        _guarded(tenant, fire_due_timers, sessions, tenant_id=tenant, clock=clock)
        _guarded(tenant, refresh_jeopardy, sessions, tenant_id=tenant, clock=clock)
        _guarded(tenant, close_finished_incidents, sessions, tenant_id=tenant, clock=clock)
        _guarded(tenant, recommend_new_cases, sessions, tenant_id=tenant, clock=clock)
        evidence = default_store(app.settings)
        _guarded(tenant, expire_due, sessions, tenant_id=tenant, clock=clock, evidence=evidence)
    _guarded(None, run_writeback_once, app, worker_id=worker_id or default_worker_id())
    return changes


def _guarded(
    tenant: str | None, step: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
) -> R | None:
    """Run one step of a pass; log what it raises and answer None instead."""
    try:
        return step(*args, **kwargs)
    except Exception:
        log.exception("worker step %s failed (tenant %s); going on", step.__name__, tenant)
        return None


def run_forever(
    app: App,
    *,
    stop: threading.Event,
    interval: float,
    on_changes: Callable[[list[CaseEvent]], None] | None = None,
) -> None:
    """Pass after pass until ``stop``; nothing a pass or a listener raises ends the loop."""
    worker_id = default_worker_id()
    while not stop.is_set():
        try:
            changes = run_once(app, worker_id=worker_id)
            if changes and on_changes:
                on_changes(changes)
        except Exception:
            log.exception("worker pass failed; retrying after the interval")
        stop.wait(interval)
