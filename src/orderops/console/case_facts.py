"""The case's facts as labelled values, and its SLA as a countdown, for the case page.

Facts are whatever detectors and scorers wrote (``cases.facts``): nested objects and
lists included (recurrence, for one). A reviewer reads labels and values, never JSON, so
nested objects become "Recurrence · similar 30 days" rows, amounts (``*_minor``) are
shown in the currency, and lists of objects one entry per line.

The SLA countdown is text the server renders ("due in 3 h 12 min", "overdue by 25 min"),
so it reads right without a script; ``console.js`` only ticks it on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from orderops.cases.sla import TimerOutcome
from orderops.console.action_forms import major
from orderops.console.queue_view import SlaState, sla_state
from orderops.storage.tables import Case
from orderops.storage.tables.queues import CaseTimer

MAX_DEPTH = 3
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")


@dataclass(frozen=True, kw_only=True)
class FactRow:
    label: str
    value: str


@dataclass(frozen=True, kw_only=True)
class SlaClock:
    due_at: datetime | None
    state: SlaState
    text: str


def label(key: str) -> str:
    words = key.removesuffix("_minor").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def fact_rows(facts: Mapping[str, Any], currency: str) -> list[FactRow]:
    rows: list[FactRow] = []
    for key, value in facts.items():
        _add(rows, label(key), key, value, currency, depth=0)
    return rows


def _add(
    rows: list[FactRow], name: str, key: str, value: Any, currency: str, *, depth: int
) -> None:
    if isinstance(value, Mapping) and depth < MAX_DEPTH:
        if not value:
            rows.append(FactRow(label=name, value="none"))
        for k, v in value.items():
            _add(rows, f"{name} · {label(str(k)).lower()}", str(k), v, currency, depth=depth + 1)
        return
    rows.append(FactRow(label=name, value=text(key, value, currency)))


def text(key: str, value: Any, currency: str) -> str:
    """One value as a person reads it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and key.endswith("_minor") and currency:
        return f"{major(value, currency)} {currency}"
    if isinstance(value, float):
        return f"{value:.0%}" if key.endswith(("rate", "share", "ratio")) else f"{value:g}"
    if isinstance(value, Mapping):
        return "; ".join(
            f"{label(str(k)).lower()}: {text(str(k), v, currency)}" for k, v in value.items()
        )
    if isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            return "none"
        return "; ".join(text(key, v, currency) for v in value)
    if isinstance(value, str) and ISO_TIME.fullmatch(value):
        return _when(value)
    return str(value)


def _when(value: str) -> str:
    """An ISO time as the console shows times: UTC, to the minute."""
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (at.astimezone(UTC) if at.tzinfo else at).strftime("%Y-%m-%d %H:%M")


def sla_clock(case: Case, timers: Sequence[CaseTimer], *, now: datetime) -> SlaClock | None:
    """Due in / overdue by, from the case's SLA timers (None: the case has no SLA)."""
    pending = [t.due_at for t in timers if t.fired_at is None]
    breached = any(t.outcome in (TimerOutcome.ESCALATED, TimerOutcome.NOTIFIED) for t in timers)
    due = min(pending) if pending else None
    if due is None and not breached:
        return None
    state = sla_state(status=case.status, due_at=due, breached_before=breached, now=now)
    if due is None:
        return SlaClock(due_at=None, state=state, text="SLA breached")
    if due > now:
        return SlaClock(due_at=due, state=state, text=f"due in {span(due - now)}")
    return SlaClock(due_at=due, state=state, text=f"overdue by {span(now - due)}")


def span(delta: timedelta) -> str:
    """ "3 d 4 h", "3 h 12 min", "25 min": two units at most, never seconds."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"
