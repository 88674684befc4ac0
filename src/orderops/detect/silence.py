"""Integration silence: a source that normally talks has gone quiet.

Judged per tenant and source, not per order. The usual gap is the mean gap between
the source's events over ``lookback_days`` ending at its last event (so it does not
drift as the silence goes on); the source is silent once nothing has arrived for
``gap_factor`` usual gaps and at least ``min_silence_hours``. Sources with fewer than
``min_events`` events in the lookback have no "usual" yet and are never judged.

A case needs an order, so the silence of source ``S`` is filed against the synthetic
order ref ``source:S`` (see ``silence_order_ref``), which keeps the one-open-case-per-
order-and-type rule working for it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from orderops.detect.thresholds import DEFAULTS
from orderops.detect.verdict import Thresholds, Verdict, hours
from orderops.domain.cases import ExceptionType

SOURCE_PREFIX = "source:"


def silence_order_ref(source: str) -> str:
    return f"{SOURCE_PREFIX}{source}"


@dataclass(frozen=True)
class SourceActivity:
    source: str
    last_event_at: datetime
    events_in_lookback: int
    first_in_lookback: datetime


def silence_deadline(
    activity: SourceActivity, thresholds: Thresholds | None = None
) -> datetime | None:
    """When the source counts as silent if nothing more arrives; None if it has no habit yet."""
    settings = {**DEFAULTS[ExceptionType.INTEGRATION_SILENCE], **(thresholds or {})}
    if activity.events_in_lookback < max(2, int(settings["min_events"])):
        return None
    span = activity.last_event_at - activity.first_in_lookback
    usual = span / (activity.events_in_lookback - 1)
    quiet_for = max(usual * settings["gap_factor"], timedelta(hours=settings["min_silence_hours"]))
    return activity.last_event_at + quiet_for


def judge_source(
    activity: SourceActivity, *, now: datetime, thresholds: Thresholds | None = None
) -> Verdict:
    kind = ExceptionType.INTEGRATION_SILENCE
    deadline = silence_deadline(activity, thresholds)
    if deadline is None or deadline > now:
        return Verdict(
            exception_type=kind,
            detected=False,
            cleared=True,
            clear_reason=f"{activity.source} is sending events again",
            recheck_at=deadline,
        )
    silent = (now - activity.last_event_at).total_seconds()
    return Verdict(
        exception_type=kind,
        detected=True,
        cleared=False,
        summary=f"No events from {activity.source} for {hours(silent)}",
        evidence_key=f"silence:{activity.source}:{activity.last_event_at.isoformat()}",
        detected_at=deadline,
        time_based=True,
        facts={
            "source": activity.source,
            "last_event_at": activity.last_event_at.isoformat(),
            "events_in_lookback": activity.events_in_lookback,
        },
    )
