"""Where the predicted-delay detector gets its model: a versioned file, or training once.

Files live under ``<data_dir>/models`` as ``delay-<version>.joblib`` (the model, written
by ``DelayModel.save``) beside ``delay-<version>.lanes.joblib`` (the lane history its
lane feature reads). Nothing is ever downloaded: a missing model is trained from the
simulator's shipment history on first use, saved, and loaded from then on. Joblib files
are pickles; load only files this deployment wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import joblib

from orderops.detect.delay_predicted import DelayScorer
from orderops.detect.models.delay_evaluation import (
    best_threshold,
    checkpoints,
    model_scorer,
    time_split,
)
from orderops.detect.models.delay_features import build_training_rows
from orderops.detect.models.delay_model import DelayModel, train_delay_model
from orderops.detect.models.lane_history import LaneHistory
from orderops.detect.models.shipments import ShipmentRecord

MODEL_GLOB = "delay-*.joblib"
LANES_SUFFIX = ".lanes.joblib"


def train_scorer(
    records: list[ShipmentRecord], *, step: timedelta = timedelta(hours=6)
) -> DelayScorer:
    """Fit on the history; the flagging threshold is the one with the best early F1 on the
    history's last fifth (fitted without it), as ``evaluate_delay_model`` chooses it."""
    history = LaneHistory(records)
    finished = [r for r in records if r.finished]
    fit_part, validation, _ = time_split(finished, 0.2)
    early = train_delay_model(build_training_rows(fit_part, history, step=step))
    points = [(r, p) for r in validation for p in checkpoints(r, history, step=step)]
    threshold = best_threshold(points, model_scorer(early)(points))
    model = train_delay_model(
        build_training_rows(finished, history, step=step), threshold=threshold
    )
    return DelayScorer(model=model, history=history)


def save_scorer(scorer: DelayScorer, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{scorer.model.version}.joblib"
    scorer.model.save(path)
    joblib.dump(scorer.history, directory / f"{scorer.model.version}{LANES_SUFFIX}")
    return path


def load_latest(directory: Path) -> DelayScorer | None:
    """The most recently written model of ``directory`` with its lane history, if any."""
    if not directory.is_dir():
        return None
    models = [p for p in directory.glob(MODEL_GLOB) if not p.name.endswith(LANES_SUFFIX)]
    for path in sorted(models, key=lambda p: (p.stat().st_mtime, p.name), reverse=True):
        lanes = path.with_name(path.name.removesuffix(".joblib") + LANES_SUFFIX)
        if lanes.exists():
            history = joblib.load(lanes)
            if isinstance(history, LaneHistory):
                return DelayScorer(model=DelayModel.load(path), history=history)
    return None


def ensure_scorer(directory: Path, *, history: Callable[[], list[ShipmentRecord]]) -> DelayScorer:
    """Load the latest model, or train one on ``history()`` and save it first."""
    scorer = load_latest(directory)
    if scorer is None:
        scorer = train_scorer(history())
        save_scorer(scorer, directory)
    return scorer
