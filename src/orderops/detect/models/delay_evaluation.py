"""Time-split evaluation of the delay model beside the two plain rules it replaces.

The question every detector answers is "will this open shipment miss its
promise?", asked at snapshots every ``step`` from dispatch until delivery or the
promise, plus once at the promise itself. All detectors see the same snapshots:

* AUC is over the snapshots *before* the promise (after it the answer is known),
  with each snapshot labelled by how its shipment ended;
* a detector flags a shipment at its first checkpoint scoring at or above its
  threshold; precision and recall count shipments; lead time is
  ``promise - first flag`` in hours over correctly flagged late shipments, and
  early recall is the share of late shipments flagged strictly before the promise
  (the share a detector saves from being noticed only at the breach); early
  precision is the share of before-promise flags that were right.

The plain rules, approximated from what the data sets hold. Each is a rule a desk
could run without a model, scored as a number so its AUC means something, and
each flags at its own moment, so it has its own lead time:

* ``carrier_edd``: "late if the carrier's estimated delivery date is after the
  promise", scored as ``EDD - promise`` in hours. Only where an EDD is given
  (``carrier_edd=``); neither Olist nor DataCo carries one (their estimate *is*
  the promise), so on them the rule is reported as not given.
* ``lane_median_transit``: "expected arrival = dispatch + the median transit of
  this lane's earlier shipments that took longer than the time already elapsed"
  (the lane's remaining-life median, learnt on the training period only; a lane
  with fewer than ``MIN_LANE_SHIPMENTS`` falls back to all lanes), scored as
  ``expected arrival - promise`` in hours and flagged when positive.
* ``last_scan_age``: the hours since the last carrier scan, flagged at 48 hours.
  The data sets carry no scans between dispatch and delivery, so the last scan is
  the dispatch. ``no_scan_48h`` is the same rule as a 0/1 score (kept for the
  registry's metrics).
* ``past_promise`` is *not* a baseline: "late once past the promise" scores 1 only
  at or after the breach, so before the promise it is constant and its AUC is 0.5
  by construction. It stays in the table as a reference (lead time 0) and is never
  the "best real baseline" the model is compared with.

The aim: the model's AUC at least ``AIM_AUC_GAP`` (0.05) above the best real
baseline's (``DelayEvaluation.auc_gap``).

Split: shipments are sorted by dispatch; the last ``test_fraction`` is the test
period. Training uses only earlier shipments whose delivery was known by the
cutoff. The operating point is the threshold with the best shipment-level F1 of flags raised
before the promise, on the last ``validation_fraction`` of the training period
(model fitted on the rest);
the model is then refitted on the whole training period.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import mean, median

import numpy as np
from sklearn.metrics import roc_auc_score

from orderops.detect.models.delay_features import (
    DEFAULT_SNAPSHOT_STEP,
    HOUR,
    DelayFeatures,
    build_training_rows,
    features_at,
    snapshot_times,
)
from orderops.detect.models.delay_model import (
    DelayModel,
    DelayModelParams,
    TrainingDataError,
    train_delay_model,
)
from orderops.detect.models.lane_history import LaneHistory
from orderops.detect.models.shipments import ShipmentRecord

NO_SCAN_HOURS = 48.0
MODEL = "delay_model"
PAST_PROMISE = "past_promise"
NO_SCAN_48H = "no_scan_48h"
CARRIER_EDD = "carrier_edd"
LANE_MEDIAN_TRANSIT = "lane_median_transit"
LAST_SCAN_AGE = "last_scan_age"
REAL_BASELINES = (CARRIER_EDD, LANE_MEDIAN_TRANSIT, LAST_SCAN_AGE, NO_SCAN_48H)
"""Rules a desk could run; the model is compared with the best of them."""
REFERENCE_ONLY = frozenset({PAST_PROMISE})
"""Shown for reference, never a baseline: its pre-promise AUC is 0.5 by construction."""
AIM_AUC_GAP = 0.05
MIN_LANE_SHIPMENTS = 20
LATE_BY_HOURS = 1e-6
"""A rule that predicts arrival in hours past the promise flags when this is exceeded."""


@dataclass(frozen=True)
class Checkpoint:
    at: datetime
    features: DelayFeatures
    before_promise: bool


@dataclass(frozen=True)
class DetectorResult:
    name: str
    threshold: float
    auc: float
    precision: float
    recall: float
    early_precision: float
    early_recall: float
    flagged: int
    true_positives: int
    median_lead_time_hours: float | None
    mean_lead_time_hours: float | None


@dataclass(frozen=True)
class DelayEvaluation:
    dataset: str
    cutoff: datetime
    train_shipments: int
    test_shipments: int
    test_late: int
    test_snapshots: int
    model_version: str
    results: tuple[DetectorResult, ...]

    def result(self, name: str) -> DetectorResult:
        return next(result for result in self.results if result.name == name)

    def best_baseline(self) -> DetectorResult:
        """The real rule (never ``past_promise``) with the best AUC."""
        real = [r for r in self.results if r.name in REAL_BASELINES]
        return max(real, key=lambda r: r.auc)

    @property
    def auc_gap(self) -> float:
        """Model AUC minus the best real baseline's; the aim is ``AIM_AUC_GAP``."""
        return self.result(MODEL).auc - self.best_baseline().auc


# A detector scores one checkpoint of one shipment.
Scorer = Callable[[Sequence[tuple[ShipmentRecord, Checkpoint]]], list[float]]


def checkpoints(
    record: ShipmentRecord, history: LaneHistory, *, step: timedelta
) -> list[Checkpoint]:
    """Pre-promise snapshots, plus the promise instant if the shipment is still open."""
    moments = [(at, True) for at in snapshot_times(record, step=step)]
    if record.is_open_at(record.promised_at):
        moments.append((record.promised_at, False))
    return [Checkpoint(at, features_at(record, at, history), before) for at, before in moments]


def past_promise_scores(points: Sequence[tuple[ShipmentRecord, Checkpoint]]) -> list[float]:
    return [float(point.at >= record.promised_at) for record, point in points]


def no_scan_scores(points: Sequence[tuple[ShipmentRecord, Checkpoint]]) -> list[float]:
    return [float(point.features.last_scan_age_hours >= NO_SCAN_HOURS) for _, point in points]


def last_scan_age_scores(points: Sequence[tuple[ShipmentRecord, Checkpoint]]) -> list[float]:
    return [point.features.last_scan_age_hours for _, point in points]


class LaneTransit:
    """Transit hours (dispatch to delivery) per lane, from shipments delivered in the past."""

    def __init__(self, records: Sequence[ShipmentRecord]) -> None:
        lanes: dict[str, list[float]] = defaultdict(list)
        everything: list[float] = []
        for record in records:
            if record.delivered_at is None:
                continue
            hours = (record.delivered_at - record.dispatched_at) / HOUR
            lanes[record.lane].append(hours)
            everything.append(hours)
        self._lanes = {lane: sorted(values) for lane, values in lanes.items()}
        self._all = sorted(everything)

    def expected_arrival(self, record: ShipmentRecord, at: datetime) -> datetime:
        """Dispatch + the median transit of past shipments slower than the time elapsed.

        Past every transit seen, the shipment is expected now: the rule has no more to say.
        """
        transits = self._lanes.get(record.lane, [])
        if len(transits) < MIN_LANE_SHIPMENTS:
            transits = self._all
        elapsed = (at - record.dispatched_at) / HOUR
        slower = transits[bisect_right(transits, elapsed) :]
        if not slower:
            return at
        return record.dispatched_at + median(slower) * HOUR


def lane_median_scorer(transit: LaneTransit) -> Scorer:
    def score(points: Sequence[tuple[ShipmentRecord, Checkpoint]]) -> list[float]:
        return [
            (transit.expected_arrival(record, point.at) - record.promised_at) / HOUR
            for record, point in points
        ]

    return score


def carrier_edd_scorer(edd: Mapping[str, datetime]) -> Scorer:
    """``EDD - promise`` in hours; a shipment without an EDD scores 0 (no evidence)."""

    def score(points: Sequence[tuple[ShipmentRecord, Checkpoint]]) -> list[float]:
        return [
            (edd[record.shipment_id] - record.promised_at) / HOUR
            if record.shipment_id in edd
            else 0.0
            for record, _ in points
        ]

    return score


def model_scorer(model: DelayModel) -> Scorer:
    def score(points: Sequence[tuple[ShipmentRecord, Checkpoint]]) -> list[float]:
        return model.predict_proba_many([point.features for _, point in points])

    return score


def _timeline(
    records: Sequence[ShipmentRecord], history: LaneHistory, step: timedelta
) -> list[tuple[ShipmentRecord, Checkpoint]]:
    return [(r, point) for r in records for point in checkpoints(r, history, step=step)]


def _first_flags(
    points: Sequence[tuple[ShipmentRecord, Checkpoint]], scores: Sequence[float], threshold: float
) -> dict[str, datetime]:
    """Shipment id -> time of its first checkpoint at or above ``threshold``."""
    flags: dict[str, datetime] = {}
    for (record, point), score in zip(points, scores, strict=True):
        if score >= threshold and record.shipment_id not in flags:
            flags[record.shipment_id] = point.at
    return flags


def best_threshold(
    points: Sequence[tuple[ShipmentRecord, Checkpoint]], scores: Sequence[float]
) -> float:
    """Threshold with the best shipment-level F1 of flags raised before the promise.

    The promise instant is left out: there every open shipment is late, so it
    would reward a threshold that only ever fires at the breach.
    """
    top: dict[str, tuple[float, bool]] = {}
    for (record, point), score in zip(points, scores, strict=True):
        if not point.before_promise:
            continue
        previous = top.get(record.shipment_id, (0.0, record.late))[0]
        top[record.shipment_id] = (max(previous, score), record.late)
    tops = np.array([value for value, _ in top.values()])
    late = np.array([is_late for _, is_late in top.values()])
    best, best_f1 = 0.5, -1.0
    for threshold in np.arange(0.05, 0.951, 0.025):
        flagged = tops >= threshold
        true_positives = int((flagged & late).sum())
        f1 = 2 * true_positives / max(int(flagged.sum()) + int(late.sum()), 1)
        if f1 > best_f1:
            best, best_f1 = round(float(threshold), 3), f1
    return best


def score_detector(
    name: str,
    records: Sequence[ShipmentRecord],
    points: Sequence[tuple[ShipmentRecord, Checkpoint]],
    scores: Sequence[float],
    threshold: float,
) -> DetectorResult:
    before = [(r, s) for (r, p), s in zip(points, scores, strict=True) if p.before_promise]
    labels = [int(record.late) for record, _ in before]
    if len(set(labels)) < 2:
        raise TrainingDataError("test snapshots need both late and on-time shipments")
    auc = float(roc_auc_score(labels, [score for _, score in before]))
    flags = _first_flags(points, scores, threshold)
    by_id = {record.shipment_id: record for record in records}
    hits = [by_id[shipment_id] for shipment_id in flags if by_id[shipment_id].late]
    leads = [(r.promised_at - flags[r.shipment_id]) / HOUR for r in hits]
    late_total = sum(1 for record in records if record.late)
    early_flags = [i for i in flags if flags[i] < by_id[i].promised_at]
    early_hits = sum(1 for i in early_flags if by_id[i].late)
    return DetectorResult(
        name=name,
        threshold=threshold,
        auc=auc,
        precision=len(hits) / len(flags) if flags else 0.0,
        recall=len(hits) / late_total if late_total else 0.0,
        early_precision=early_hits / len(early_flags) if early_flags else 0.0,
        early_recall=early_hits / late_total if late_total else 0.0,
        flagged=len(flags),
        true_positives=len(hits),
        median_lead_time_hours=median(leads) if leads else None,
        mean_lead_time_hours=mean(leads) if leads else None,
    )


def time_split(
    records: Sequence[ShipmentRecord], test_fraction: float
) -> tuple[list[ShipmentRecord], list[ShipmentRecord], datetime]:
    """(train, test, cutoff): train holds only outcomes known by the cutoff."""
    ordered = sorted(records, key=lambda record: (record.dispatched_at, record.shipment_id))
    cutoff = ordered[int(len(ordered) * (1 - test_fraction))].dispatched_at
    train = [
        r
        for r in ordered
        if r.dispatched_at < cutoff and r.delivered_at is not None and r.delivered_at <= cutoff
    ]
    test = [r for r in ordered if r.dispatched_at >= cutoff]
    return train, test, cutoff


def evaluate_delay_model(
    records: Sequence[ShipmentRecord],
    *,
    dataset: str,
    test_fraction: float = 0.3,
    validation_fraction: float = 0.2,
    step: timedelta = DEFAULT_SNAPSHOT_STEP,
    params: DelayModelParams | None = None,
    carrier_edd: Mapping[str, datetime] | None = None,
) -> DelayEvaluation:
    """Train on the past, score the future: the model beside the real rules (and the
    ``past_promise`` reference). ``carrier_edd`` maps shipment id to the carrier's
    estimated delivery; without it the EDD rule is left out (not given)."""
    params = params or DelayModelParams()
    finished = [record for record in records if record.finished]
    history = LaneHistory(records)
    train, test, cutoff = time_split(finished, test_fraction)

    fit_part, validation, _ = time_split(train, validation_fraction)
    early = train_delay_model(build_training_rows(fit_part, history, step=step), params=params)
    validation_points = _timeline(validation, history, step)
    threshold = best_threshold(validation_points, model_scorer(early)(validation_points))

    model = train_delay_model(
        build_training_rows(train, history, step=step), params=params, threshold=threshold
    )
    points = _timeline(test, history, step)
    detectors: list[tuple[str, Scorer, float]] = [
        (MODEL, model_scorer(model), threshold),
        (LANE_MEDIAN_TRANSIT, lane_median_scorer(LaneTransit(train)), LATE_BY_HOURS),
        (LAST_SCAN_AGE, last_scan_age_scores, NO_SCAN_HOURS),
        (NO_SCAN_48H, no_scan_scores, 1.0),
        (PAST_PROMISE, past_promise_scores, 1.0),
    ]
    if carrier_edd:
        detectors.insert(1, (CARRIER_EDD, carrier_edd_scorer(carrier_edd), LATE_BY_HOURS))
    results = tuple(
        score_detector(name, test, points, scorer(points), detector_threshold)
        for name, scorer, detector_threshold in detectors
    )
    return DelayEvaluation(
        dataset=dataset,
        cutoff=cutoff,
        train_shipments=len(train),
        test_shipments=len(test),
        test_late=sum(1 for record in test if record.late),
        test_snapshots=sum(1 for _, point in points if point.before_promise),
        model_version=model.version,
        results=results,
    )
