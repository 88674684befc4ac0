"""Recent lateness of a lane, computed only from what was known at the asking time.

A lane's lateness rate is the strongest cheap signal of a carrier or region in
trouble, and the easiest place to leak the future into training: counting a
shipment that finished after the prediction time makes offline scores look great
and production scores collapse. Here a shipment counts for time ``at`` only if it
was delivered strictly before ``at`` and within ``window``; the rate is shrunk
towards the global rate over the same window so a lane with two shipments does
not swing between 0 and 1.

The same history answers "how long do this lane's parcels take?" under the same rule
(``transits``): the transit hours (dispatch to delivery) of the lane's deliveries in
``[at - window, at)``, sorted, or of every lane when the lane has fewer than
``MIN_LANE_TRANSITS``. ``remaining_life`` reads from them what the plain lane-median rule
knows, as of ``at``: of the parcels that were still travelling after the time this one
has been out, when did they typically arrive.
Evaluation asks at tens of thousands of moments, so the sorted transits of a window are
kept (a small cache keyed by the window's bounds in the delivery order).
"""

from __future__ import annotations

import bisect
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from orderops.detect.models.shipments import ShipmentRecord

DEFAULT_WINDOW = timedelta(days=90)
DEFAULT_PRIOR_WEIGHT = 5.0
# Before anything has finished there is no evidence either way.
NEUTRAL_RATE = 0.5
MIN_LANE_TRANSITS = 20
"""A lane with fewer deliveries in the window reads the transits of every lane."""
TRANSIT_CACHE_SIZE = 4096
_HOUR = timedelta(hours=1)
_ALL_LANES = "\x00all"


@dataclass(frozen=True)
class RemainingLife:
    """What past transits say about a parcel out for ``elapsed`` hours: the median of the
    transits longer than ``elapsed`` (hours since dispatch). ``seen`` counts them (0: no
    past parcel took that long, and the median falls back to ``elapsed``: due now)."""

    median_hours: float
    seen: int


@dataclass
class _Series:
    """Finish times in order, with a running count of late ones (prefix sums)."""

    finished_at: list[datetime]
    late_prefix: list[int]

    def counts(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(finished, late) among finishes in ``[start, end)``."""
        lo = bisect.bisect_left(self.finished_at, start)
        hi = bisect.bisect_left(self.finished_at, end)
        return hi - lo, self.late_prefix[hi] - self.late_prefix[lo]


@dataclass
class _Transits:
    """Delivery times in order with the transit hours of each delivery."""

    delivered_at: list[datetime]
    hours: list[float]

    def bounds(self, start: datetime, end: datetime) -> tuple[int, int]:
        return (
            bisect.bisect_left(self.delivered_at, start),
            bisect.bisect_left(self.delivered_at, end),
        )


def _transits(pairs: list[tuple[datetime, float]]) -> _Transits:
    pairs.sort(key=lambda pair: pair[0])
    return _Transits([when for when, _ in pairs], [hours for _, hours in pairs])


def _median(values: list[float], lo: int) -> float:
    """Median of the sorted ``values[lo:]``."""
    middle = lo + (len(values) - lo) // 2
    if (len(values) - lo) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2


def _series(pairs: list[tuple[datetime, bool]]) -> _Series:
    pairs.sort(key=lambda pair: pair[0])
    prefix = [0]
    for _, late in pairs:
        prefix.append(prefix[-1] + int(late))
    return _Series(finished_at=[when for when, _ in pairs], late_prefix=prefix)


class LaneHistory:
    """Answers "how late has this lane been lately?" as of any moment, without peeking."""

    def __init__(
        self,
        records: Iterable[ShipmentRecord],
        *,
        window: timedelta = DEFAULT_WINDOW,
        prior_weight: float = DEFAULT_PRIOR_WEIGHT,
    ) -> None:
        by_lane: dict[str, list[tuple[datetime, bool]]] = defaultdict(list)
        everything: list[tuple[datetime, bool]] = []
        transit_by_lane: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
        for record in records:
            if record.delivered_at is None:
                continue
            by_lane[record.lane].append((record.delivered_at, record.late))
            everything.append((record.delivered_at, record.late))
            hours = (record.delivered_at - record.dispatched_at) / _HOUR
            transit_by_lane[record.lane].append((record.delivered_at, hours))
            transit_by_lane[_ALL_LANES].append((record.delivered_at, hours))
        self._lanes = {lane: _series(pairs) for lane, pairs in by_lane.items()}
        self._all = _series(everything)
        self._transits = {lane: _transits(pairs) for lane, pairs in transit_by_lane.items()}
        self._sorted: OrderedDict[tuple[str, int, int], list[float]] = OrderedDict()
        self._window = window
        self._prior_weight = prior_weight

    def late_rate(self, lane: str, at: datetime) -> float:
        """Shrunk lateness rate of ``lane`` over deliveries in ``[at - window, at)``."""
        start = at - self._window
        total, total_late = self._all.counts(start, at)
        prior = total_late / total if total else NEUTRAL_RATE
        series = self._lanes.get(lane)
        finished, late = series.counts(start, at) if series else (0, 0)
        return (late + self._prior_weight * prior) / (finished + self._prior_weight)

    def transits(self, lane: str, at: datetime, window: timedelta | None = None) -> list[float]:
        """Sorted transit hours of ``lane``'s deliveries in ``[at - window, at)`` (every
        lane's when it has fewer than ``MIN_LANE_TRANSITS``); ``window`` defaults to the
        history's."""
        start = at - (window or self._window)
        key, series = lane, self._transits.get(lane)
        lo, hi = series.bounds(start, at) if series else (0, 0)
        if hi - lo < MIN_LANE_TRANSITS:
            key, series = _ALL_LANES, self._transits.get(_ALL_LANES)
            if series is None:
                return []
            lo, hi = series.bounds(start, at)
        assert series is not None
        cached = self._sorted.get((key, lo, hi))
        if cached is None:
            cached = sorted(series.hours[lo:hi])
            self._sorted[(key, lo, hi)] = cached
            if len(self._sorted) > TRANSIT_CACHE_SIZE:
                self._sorted.popitem(last=False)
        return cached

    def remaining_life(
        self, lane: str, at: datetime, *, elapsed_hours: float, window: timedelta | None = None
    ) -> RemainingLife:
        """Past transits of ``lane`` (as of ``at``, over ``window``) longer than
        ``elapsed_hours``, summed up by their median."""
        values = self.transits(lane, at, window)
        lo = bisect.bisect_right(values, elapsed_hours)
        if lo == len(values):
            return RemainingLife(elapsed_hours, 0)
        return RemainingLife(_median(values, lo), len(values) - lo)
