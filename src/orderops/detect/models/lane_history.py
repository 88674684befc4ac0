"""Recent lateness of a lane, computed only from what was known at the asking time.

A lane's lateness rate is the strongest cheap signal of a carrier or region in
trouble, and the easiest place to leak the future into training: counting a
shipment that finished after the prediction time makes offline scores look great
and production scores collapse. Here a shipment counts for time ``at`` only if it
was delivered strictly before ``at`` and within ``window``; the rate is shrunk
towards the global rate over the same window so a lane with two shipments does
not swing between 0 and 1.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from orderops.detect.models.shipments import ShipmentRecord

DEFAULT_WINDOW = timedelta(days=90)
DEFAULT_PRIOR_WEIGHT = 5.0
# Before anything has finished there is no evidence either way.
NEUTRAL_RATE = 0.5


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
        for record in records:
            if record.delivered_at is None:
                continue
            by_lane[record.lane].append((record.delivered_at, record.late))
            everything.append((record.delivered_at, record.late))
        self._lanes = {lane: _series(pairs) for lane, pairs in by_lane.items()}
        self._all = _series(everything)
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
