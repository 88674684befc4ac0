"""Service levels per queue and priority. Pure.

A queue may override the response time of any priority; whatever it leaves out falls
back to ``DEFAULT_SLA``, so a new queue is never without a deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from orderops.domain.routing import LEGACY_PRIORITIES, Priority

DEFAULT_SLA: dict[Priority, timedelta] = {
    Priority.P1: timedelta(hours=1),
    Priority.P2: timedelta(hours=4),
    Priority.P3: timedelta(hours=24),
    Priority.P4: timedelta(hours=72),
}

_LEGACY_KEY = {priority: word for word, priority in LEGACY_PRIORITIES.items()}


def sla_for(priority: Priority, overrides_minutes: Mapping[str, int] | None = None) -> timedelta:
    """The response time for ``priority`` in a queue with these per-priority overrides."""
    overrides = overrides_minutes or {}
    minutes = overrides.get(str(priority), overrides.get(_LEGACY_KEY[priority]))
    return timedelta(minutes=minutes) if minutes is not None else DEFAULT_SLA[priority]


def sla_due(
    start: datetime, priority: Priority, overrides_minutes: Mapping[str, int] | None = None
) -> datetime:
    return start + sla_for(priority, overrides_minutes)
