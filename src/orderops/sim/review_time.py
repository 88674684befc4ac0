"""When a simulated person looks at a labelled exception: shortly after it happens.

A desk works a case soon after it opens, so the reviewer, the acceptable sets and the
recommender must all judge a label on the order as it stood then. Judging every label at
the end of the window (as the first evaluation did) asked "capture the held payment?" of
orders captured and delivered days before, and scored the recommender on facts no
reviewer would have had.

Labels are grouped by the hour their review falls in, so the event stream is folded once
per hour with labels rather than once per label.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from orderops.sim.labels import Label

REVIEW_AFTER = timedelta(hours=1)
"""How long after a label fires the desk decides: the first sweep after it, roughly."""

T = TypeVar("T")


def review_time(label: Label, *, end: datetime, after: timedelta = REVIEW_AFTER) -> datetime:
    """``after`` past the label, rounded up to the hour, never past ``end``."""
    moment = label.at + after
    hour = moment.replace(minute=0, second=0, microsecond=0)
    if hour < moment:
        hour += timedelta(hours=1)
    return min(hour, end)


def by_review_time(
    events: Sequence[Mapping[str, Any]], labels: Sequence[Label], *, end: datetime
) -> Iterator[tuple[datetime, Sequence[Mapping[str, Any]], list[int]]]:
    """(decision time, the events up to it, the indexes of its labels), earliest first."""
    ordered = sorted(events, key=lambda e: e["time"])
    times = [datetime.fromisoformat(e["time"]) for e in ordered]
    groups: dict[datetime, list[int]] = {}
    for n, label in enumerate(labels):
        groups.setdefault(review_time(label, end=end), []).append(n)
    for moment in sorted(groups):
        yield moment, ordered[: bisect_right(times, moment)], groups[moment]


def judged_at_review(
    events: Sequence[Mapping[str, Any]],
    labels: Sequence[Label],
    judge: Callable[[Sequence[Mapping[str, Any]], Sequence[Label], datetime], list[T]],
    *,
    end: datetime,
) -> list[T]:
    """``judge(events so far, labels, decide_at)`` per review hour, back in label order."""
    out: dict[int, T] = {}
    for moment, known, indexes in by_review_time(events, labels, end=end):
        verdicts = judge(known, [labels[i] for i in indexes], moment)
        out.update(zip(indexes, verdicts, strict=True))
    return [out[n] for n in range(len(labels))]
