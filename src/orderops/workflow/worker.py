"""The worker loop: drain pending inbox events and run time sweeps for every tenant.

Any number of workers may run: inbox rows are claimed with SKIP LOCKED on PostgreSQL
and SQLite writers are serialised, and sweeps are idempotent (the case table's unique
open-case index holds whatever two sweeps race on).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from orderops.bootstrap import App
from orderops.storage.uow import tenant_ids
from orderops.workflow.cases import CaseEvent
from orderops.workflow.pipeline import process_pending
from orderops.workflow.sweeps import sweep_late_orders

log = logging.getLogger(__name__)


def run_once(app: App) -> list[CaseEvent]:
    changes: list[CaseEvent] = []
    for tenant_id in tenant_ids(app.sessions):
        changes += process_pending(app.sessions, tenant_id=tenant_id, clock=app.clock)
        changes += sweep_late_orders(app.sessions, tenant_id=tenant_id, clock=app.clock)
    return changes


def run_forever(
    app: App,
    *,
    stop: threading.Event,
    interval: float,
    on_changes: Callable[[list[CaseEvent]], None] | None = None,
) -> None:
    while not stop.is_set():
        try:
            changes = run_once(app)
        except Exception:
            log.exception("worker pass failed")
        else:
            if changes and on_changes:
                on_changes(changes)
        stop.wait(interval)
