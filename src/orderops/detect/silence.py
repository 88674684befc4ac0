"""Integration silence: a source that normally talks has gone quiet.

Judged per tenant and source, not per order, against the source's own habit over
``lookback_days`` ending at its last event (so it does not drift as the silence goes on):
the source is silent once the quiet has lasted long enough that ``gap_factor`` events
should have arrived, and at least ``min_silence_hours``. When the habit is known hour by
hour of the day (``by_hour``), the events expected are counted hour by hour, so a support
desk quiet every night is not an outage at dawn while a storefront quiet all afternoon
is; without it, the mean gap stands for every hour. Sources with fewer than
``min_events`` events in the lookback have no habit yet and are never judged: the default,
168, is one event per hour of the day per day of a 7-day lookback on average, the least
that says anything about each hour (a store's 20 tickets a day do not, and their quiet
nights are no outage).

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
    by_hour: tuple[int, ...] | None = None
    """Events of the lookback per UTC hour of the day (24 counts), when known."""


def silence_deadline(
    activity: SourceActivity, thresholds: Thresholds | None = None
) -> datetime | None:
    """When the source counts as silent if nothing more arrives; None if it has no habit yet."""
    settings = {**DEFAULTS[ExceptionType.INTEGRATION_SILENCE], **(thresholds or {})}
    if activity.events_in_lookback < max(2, int(settings["min_events"])):
        return None
    floor = activity.last_event_at + timedelta(hours=settings["min_silence_hours"])
    span = activity.last_event_at - activity.first_in_lookback
    if activity.by_hour is None or len(activity.by_hour) != HOURS_A_DAY:
        usual = span / (activity.events_in_lookback - 1)
        return max(activity.last_event_at + usual * settings["gap_factor"], floor)
    days = max(span / timedelta(days=1), 1.0)
    rates = [count / days for count in activity.by_hour]  # expected events in that hour
    return max(_expected_by(activity.last_event_at, rates, settings["gap_factor"]), floor)


HOURS_A_DAY = 24


def _expected_by(start: datetime, rates: list[float], wanted: float) -> datetime:
    """When ``wanted`` events would have arrived since ``start`` at each hour's rate."""
    at, owed = start, wanted
    for _ in range(HOURS_A_DAY * 8):  # rates sum to at least one event a day: a week suffices
        hour_end = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        rate = rates[at.hour]
        left = (hour_end - at) / timedelta(hours=1)
        if rate * left >= owed:
            return at + timedelta(hours=owed / rate)
        owed -= rate * left
        at = hour_end
    return at


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
