"""The evaluation's cache of simulator-trained delay models (never the worker's source).

``orderops eval detectors`` trains a delay model per simulator seed on that seed's
history and keeps it under ``<dir>/delay-<version>.skops`` so the next run does not
train again. The worker never reads these files: it scores with the tenant's promoted
model from the registry, else the shipped default (``detect/model_registry_scoring.py``).
Files are skops (``DelayModel.to_bytes``), which cannot run code when read; the lane
history is rebuilt from the same history the model was trained on, never stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from orderops.detect.delay_predicted import DelayScorer
from orderops.detect.model_registry_delay import fit_delay_model
from orderops.detect.models.delay_model import DelayModel
from orderops.detect.models.lane_history import LaneHistory
from orderops.detect.models.shipments import ShipmentRecord

MODEL_GLOB = "delay-*.skops"


def train_scorer(
    records: list[ShipmentRecord], *, step: timedelta = timedelta(hours=6)
) -> DelayScorer:
    """Fit on the history's finished shipments (``fit_delay_model``)."""
    history = LaneHistory(records)
    finished = [r for r in records if r.finished]
    return DelayScorer(
        model=fit_delay_model(finished, history, step=step), history=history, source="trained"
    )


def save_scorer(scorer: DelayScorer, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{scorer.model.version}.skops"
    scorer.model.save(path)
    return path


def ensure_scorer(directory: Path, *, history: Callable[[], list[ShipmentRecord]]) -> DelayScorer:
    """The newest model of ``directory`` with the lane history of ``history()``, or one
    trained on ``history()`` and saved there first."""
    records = history()
    models = sorted(
        directory.glob(MODEL_GLOB) if directory.is_dir() else [],
        key=lambda p: (p.stat().st_mtime, p.name),
        reverse=True,
    )
    if models:
        return DelayScorer(
            model=DelayModel.load(models[0]), history=LaneHistory(records), source=models[0].name
        )
    scorer = train_scorer(records)
    save_scorer(scorer, directory)
    return scorer
