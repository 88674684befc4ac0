"""What the delay model sees about one open shipment at one moment.

Features are computed *as of* a prediction time: the promise slack and the age of
the last scan move as time passes, and the lane's lateness only counts shipments
that had finished by then. Training uses the same function at several moments per
shipment ("snapshots"), so the model learns from exactly what it will be shown
live, including the fact that a shipment is still undelivered.

The model also sees what the plain lane-median rule knows, as of the same moment
(``LaneHistory.remaining_life``): when the lane's parcels that were still out after this
one's elapsed time arrived, against this parcel's promise, over the lane window and over
the last ``RECENT`` days. A model names the features it reads (``DelayModel.features``):
one trained before these existed reads the first seven (``FEATURES_V1``); one trained now
reads ``FEATURES``, the set that did best on the validation part of both public data sets
(the weekday, slack, scan age and lane late rate made it worse on later months: the data
sets carry no scans, and their promise windows drift).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from orderops.detect.models.lane_history import LaneHistory
from orderops.detect.models.shipments import ShipmentRecord

HOUR = timedelta(hours=1)
RECENT = timedelta(days=21)
DEFAULT_SNAPSHOT_STEP = timedelta(hours=12)

CATEGORICAL_FEATURES = ("carrier", "service_level", "lane")
NUMERIC_FEATURES = (
    "dispatch_weekday",
    "promise_slack_hours",
    "last_scan_age_hours",
    "lane_late_rate",
    "expected_late_hours",
    "recent_expected_late_hours",
)
FEATURES_V1 = (*CATEGORICAL_FEATURES, *NUMERIC_FEATURES[:4])
"""What models trained before the remaining-life features read (artifacts without a list)."""
FEATURES = ("carrier", "service_level", "expected_late_hours", "recent_expected_late_hours")
"""What a model trained now reads (categoricals first); chosen on validation data."""
WITH_SCANS = (*FEATURES, "last_scan_age_hours")
"""``FEATURES`` for a history with carrier scans in transit (``features_for``)."""


def features_for(records: Iterable[ShipmentRecord]) -> tuple[str, ...]:
    """The features a model of ``records`` reads: ``FEATURES``, and the last scan's age
    when the history has scans between dispatch and delivery, as a tenant's own tracking
    does. The public data sets have none (their scan age is the elapsed time), so their
    validation could not weigh it; a parcel silent for days is what a desk knows first."""
    for record in records:
        end = record.delivered_at
        if any(
            record.dispatched_at < scan and (end is None or scan < end)
            for scan in record.scan_times
        ):
            return WITH_SCANS
    return FEATURES


@dataclass(frozen=True)
class DelayFeatures:
    """Inputs of one prediction. Hours are floats; slack is negative past the promise.

    The remaining-life fields default to 0 so a row for a seven-feature model can be
    written by hand; ``features_at`` always fills them."""

    carrier: str
    service_level: str
    lane: str
    dispatch_weekday: int
    promise_slack_hours: float
    last_scan_age_hours: float
    lane_late_rate: float
    expected_late_hours: float = 0.0
    """Dispatch + the median transit of the lane's parcels slower than the time elapsed,
    minus the promise (the lane-median rule's score, from the lane window as of now)."""
    recent_expected_late_hours: float = 0.0
    """``expected_late_hours`` over the last ``RECENT`` only: a lane in trouble now."""

    def as_row(self, names: Sequence[str] = FEATURES) -> list[object]:
        """The values of ``names`` in order (categoricals as text, numerics as floats)."""
        return [
            getattr(self, name) if name in CATEGORICAL_FEATURES else float(getattr(self, name))
            for name in names
        ]


@dataclass(frozen=True)
class DelayTrainingRow:
    """A snapshot of a finished shipment with its eventual outcome."""

    features: DelayFeatures
    late: bool


def features_at(record: ShipmentRecord, at: datetime, history: LaneHistory) -> DelayFeatures:
    """The features of ``record`` as they could have been known at ``at``."""
    elapsed = (at - record.dispatched_at) / HOUR
    window = (record.promised_at - record.dispatched_at) / HOUR
    life = history.remaining_life(record.lane, at, elapsed_hours=elapsed)
    recent = history.remaining_life(record.lane, at, elapsed_hours=elapsed, window=RECENT)
    return DelayFeatures(
        carrier=record.carrier,
        service_level=record.service_level,
        lane=record.lane,
        dispatch_weekday=record.dispatched_at.weekday(),
        promise_slack_hours=(record.promised_at - at) / HOUR,
        last_scan_age_hours=(at - record.last_scan_at(at)) / HOUR,
        lane_late_rate=history.late_rate(record.lane, at),
        expected_late_hours=life.median_hours - window,
        recent_expected_late_hours=recent.median_hours - window,
    )


def snapshot_times(
    record: ShipmentRecord, *, step: timedelta = DEFAULT_SNAPSHOT_STEP
) -> list[datetime]:
    """Moments before the promise at which the shipment was still open.

    These are the moments a prediction is worth something: after the promise the
    plain "past the promise" rule already knows, and after delivery nothing is left
    to predict.
    """
    times: list[datetime] = []
    at = record.dispatched_at
    while at < record.promised_at and record.is_open_at(at):
        times.append(at)
        at += step
    return times


def build_training_rows(
    records: Iterable[ShipmentRecord],
    history: LaneHistory,
    *,
    step: timedelta = DEFAULT_SNAPSHOT_STEP,
) -> list[DelayTrainingRow]:
    """Snapshots of every finished shipment, labelled with whether it ended late."""
    rows: list[DelayTrainingRow] = []
    for record in records:
        if not record.finished:
            continue
        for at in snapshot_times(record, step=step):
            rows.append(DelayTrainingRow(features_at(record, at, history), record.late))
    return rows
