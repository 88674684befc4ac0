"""The shipped default delay model: how it is built, from which public data, under what licence.

A fresh install has no shipment history of its own, so the predicted-delay detector
scores with a model trained on public data until the tenant promotes one of its own.
Only DataCo Smart Supply Chain (Constante et al., Mendeley Data 2019, CC BY 4.0:
attribution, commercial use allowed) trains it. Olist is CC BY-NC-SA 4.0 (non-commercial,
share-alike), so it may evaluate but never go into what the package ships.

``scripts/train_shipped_delay_model.py`` writes ``detect/models/shipped/delay.skops``
and its card ``delay.card.json``; the build is deterministic (fixed rows, parameters and
seed give the same model version and the same scores), and a test holds the shipped
version to the one these rows give.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import sklearn

from orderops.detect.delay_predicted import generic_record
from orderops.detect.models.csv_source import read_csv_rows
from orderops.detect.models.dataco import dataco_records
from orderops.detect.models.delay_evaluation import (
    checkpoints,
    model_scorer,
    score_detector,
    time_split,
)
from orderops.detect.models.delay_features import build_training_rows
from orderops.detect.models.delay_model import (
    DelayModel,
    DelayModelParams,
    model_version,
    train_delay_model,
)
from orderops.detect.models.lane_history import LaneHistory
from orderops.detect.models.shipments import ShipmentRecord

DATACO = Path("dataco_supply_chain") / "dataco_shipping_columns.csv"
SHIPPED_DIR = Path(__file__).resolve().parent / "models" / "shipped"
SHIPPED_PATH = SHIPPED_DIR / "delay.skops"
CARD_PATH = SHIPPED_DIR / "delay.card.json"
PRECISION_TARGET = 0.9
THRESHOLDS = tuple(round(0.5 + 0.025 * i, 3) for i in range(19))
STEP = timedelta(hours=12)
"""DataCo keeps days, not scans: snapshots twice a day, as its evaluation takes them."""
SOURCE = {
    "data_set": "DataCo Smart Supply Chain (Constante, Ferreira, Santos; Mendeley Data 2019)",
    "licence": "CC BY 4.0",
    "rows": "tests/fixtures/datasets/dataco_supply_chain/dataco_shipping_columns.csv "
    "(first 6,000 order lines, shipping columns; tests/fixtures/SOURCES.md)",
}


def shipped_records(datasets: Path) -> list[ShipmentRecord]:
    """The finished DataCo shipments the default learns from, without their names
    (``generic_record``): DataCo's shipping modes and markets are not a tenant's carriers
    and lanes, and a model that keyed on them scored a tenant's parcels at random."""
    rows = dataco_records(read_csv_rows(datasets / DATACO))
    return [generic_record(r) for r in rows if r.finished]


def shipped_version(records: list[ShipmentRecord]) -> str:
    """The version the default trained on ``records`` has (a hash of its training rows,
    parameters and library), without training it."""
    rows = build_training_rows(records, LaneHistory(records), step=STEP)
    return model_version(rows, DelayModelParams())


def train_shipped(records: list[ShipmentRecord]) -> DelayModel:
    """Fit on every record; the threshold is the lowest whose early precision reaches
    ``PRECISION_TARGET`` on the last fifth (fitted without it), else the one with the best
    early precision there (the lowest of equals): never one that flags nothing. The
    best-F1 point that a tenant's own model uses would, at DataCo's 59% late share, flag
    most parcels of a tenant whose parcels are mostly on time: a borrowed model must be
    sure before it opens a case."""
    history = LaneHistory(records)
    fit_part, validation, _ = time_split(records, 0.2)
    early = train_delay_model(build_training_rows(fit_part, history, step=STEP))
    points = [(r, p) for r in validation for p in checkpoints(r, history, step=STEP)]
    scores = model_scorer(early)(points)
    precision = {
        t: score_detector("shipped", validation, points, scores, t).early_precision
        for t in THRESHOLDS
    }
    threshold = next(
        (t for t in THRESHOLDS if precision[t] >= PRECISION_TARGET),
        max(THRESHOLDS, key=lambda t: (precision[t], -t)),
    )
    rows = build_training_rows(records, history, step=STEP)
    return train_delay_model(rows, threshold=threshold)


def card(model: DelayModel, records: list[ShipmentRecord]) -> dict[str, Any]:
    """What the shipped file is, for people and for the test that checks it."""
    return {
        "kind": "delay",
        "model_version": model.version,
        "threshold": model.threshold,
        "sklearn": sklearn.__version__,
        "shipments": len(records),
        "late_share": round(sum(1 for r in records if r.late) / len(records), 4),
        "threshold_rule": f"lowest with early precision >= {PRECISION_TARGET} on the last fifth, "
        "else the best early precision there",
        "snapshot_step_hours": STEP / timedelta(hours=1),
        "features": list(model.features),
        "source": SOURCE,
        "built_by": "scripts/train_shipped_delay_model.py",
    }
