"""What the delay model sees about one open shipment at one moment.

Features are computed *as of* a prediction time: the promise slack and the age of
the last scan move as time passes, and the lane's lateness only counts shipments
that had finished by then. Training uses the same function at several moments per
shipment ("snapshots"), so the model learns from exactly what it will be shown
live, including the fact that a shipment is still undelivered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from orderops.detect.models.lane_history import LaneHistory
from orderops.detect.models.shipments import ShipmentRecord

HOUR = timedelta(hours=1)
DEFAULT_SNAPSHOT_STEP = timedelta(hours=12)

CATEGORICAL_FEATURES = ("carrier", "service_level", "lane")
NUMERIC_FEATURES = (
    "dispatch_weekday",
    "promise_slack_hours",
    "last_scan_age_hours",
    "lane_late_rate",
)


@dataclass(frozen=True)
class DelayFeatures:
    """Inputs of one prediction. Hours are floats; slack is negative past the promise."""

    carrier: str
    service_level: str
    lane: str
    dispatch_weekday: int
    promise_slack_hours: float
    last_scan_age_hours: float
    lane_late_rate: float

    def as_row(self) -> list[object]:
        """Column order the pipeline expects: categoricals first, then numerics."""
        return [
            self.carrier,
            self.service_level,
            self.lane,
            float(self.dispatch_weekday),
            self.promise_slack_hours,
            self.last_scan_age_hours,
            self.lane_late_rate,
        ]


@dataclass(frozen=True)
class DelayTrainingRow:
    """A snapshot of a finished shipment with its eventual outcome."""

    features: DelayFeatures
    late: bool


def features_at(record: ShipmentRecord, at: datetime, history: LaneHistory) -> DelayFeatures:
    """The features of ``record`` as they could have been known at ``at``."""
    return DelayFeatures(
        carrier=record.carrier,
        service_level=record.service_level,
        lane=record.lane,
        dispatch_weekday=record.dispatched_at.weekday(),
        promise_slack_hours=(record.promised_at - at) / HOUR,
        last_scan_age_hours=(at - record.last_scan_at(at)) / HOUR,
        lane_late_rate=history.late_rate(record.lane, at),
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
