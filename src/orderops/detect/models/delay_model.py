"""The learned "this shipment will miss its promise" score, its version and its bytes.

A gradient-boosted tree model over a handful of features: trees take the
interactions (a slow lane hurts Second Class more than Same Day) without feature
engineering, and the histogram variant trains on tens of thousands of snapshots in
about a second. The model only scores; detectors decide what a score means.

A model names the features it reads (``features``, stored in its artifact): rows are
built for that list, so a tenant's model trained on the first seven features
(``FEATURES_V1``; an artifact without a list) keeps predicting after more were added.

The version string is a hash of the training rows, the parameters and the
scikit-learn version, so two stores holding the same version hold the same model,
and a case can record which model scored it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from orderops.detect.models.delay_features import (
    CATEGORICAL_FEATURES,
    FEATURES,
    FEATURES_V1,
    NUMERIC_FEATURES,
    DelayFeatures,
    DelayTrainingRow,
)
from orderops.domain.errors import OrderOpsError

MONOTONE = {
    "expected_late_hours": 1,
    "recent_expected_late_hours": 1,
}
"""Features a score may only grow with (``DelayModelParams.monotone``)."""
KNOWN_FEATURES = frozenset((*CATEGORICAL_FEATURES, *NUMERIC_FEATURES))
FILE_FORMAT = 2
"""2: skops (1 was a joblib pickle, which nothing reads any more)."""
DEFAULT_THRESHOLD = 0.5
TRUSTED_TYPES = (
    "functools.partial",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)
"""The types a delay model's skops bytes may hold beyond skops' own safe defaults."""


class ModelFileError(OrderOpsError):
    """A model file is missing pieces or was written by an incompatible format."""

    code = "model-file-invalid"


class TrainingDataError(OrderOpsError):
    """The rows cannot train a classifier (empty, or only one outcome)."""

    code = "training-data-invalid"


@cache
def one_thread() -> None:
    """Keep OpenMP and BLAS to one thread in this process, from the first prediction on.

    The desk predicts for one order at a time, and the gradient-boosting model's thread
    team costs more than it saves: 128 ms per one-row prediction against 9 ms on one thread
    on this project's busy 2-core machine (the backtest found it). A desk scales by worker
    processes, not by threads inside one prediction.
    """
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(limits=1)


@dataclass(frozen=True)
class DelayModelParams:
    """Hyper-parameters; part of the version, so changing one changes the version."""

    max_iter: int = 150
    learning_rate: float = 0.08
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    random_state: int = 0
    monotone: bool = True
    """Hold the score non-decreasing in the features ``MONOTONE`` names (the evidence that
    the lane's parcels arrive after this one's promise): trees fitted on a few months
    otherwise learn bumps that reverse the rule's order on later months. Artifacts
    written before this parameter existed were trained without it."""


def _matrix(
    features: Sequence[DelayFeatures], names: Sequence[str]
) -> np.ndarray[Any, np.dtype[Any]]:
    return np.array([f.as_row(names) for f in features], dtype=object)


def _pipeline(params: DelayModelParams, names: Sequence[str]) -> Pipeline:
    n_categorical = sum(1 for name in names if name in CATEGORICAL_FEATURES)
    if tuple(names[:n_categorical]) != tuple(n for n in names if n in CATEGORICAL_FEATURES):
        raise ValueError("categorical features come first")
    n_numeric = len(names) - n_categorical
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=250,
    )
    columns = ColumnTransformer(
        [
            ("categorical", encoder, list(range(n_categorical))),
            ("numeric", "passthrough", list(range(n_categorical, n_categorical + n_numeric))),
        ]
    )
    classifier = HistGradientBoostingClassifier(
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        categorical_features=[True] * n_categorical + [False] * n_numeric,
        monotonic_cst=[MONOTONE.get(name, 0) for name in names] if params.monotone else None,
        early_stopping=False,
        random_state=params.random_state,
    )
    return Pipeline([("columns", columns), ("classifier", classifier)])


def model_version(
    rows: Sequence[DelayTrainingRow],
    params: DelayModelParams,
    features: Sequence[str] = FEATURES,
) -> str:
    """Content hash of data + params + features + library: equal inputs, equal version."""
    digest = hashlib.sha256()
    digest.update(f"sklearn={sklearn.__version__};format={FILE_FORMAT};".encode())
    digest.update(json.dumps(asdict(params), sort_keys=True).encode())
    if tuple(features) != FEATURES_V1:
        digest.update(json.dumps(list(features)).encode())
    for row in rows:
        digest.update(repr((row.features.as_row(features), row.late)).encode())
        digest.update(b"\n")
    return f"delay-{digest.hexdigest()[:16]}"


class DelayModel:
    """A fitted pipeline with its version and the score above which it flags."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        version: str,
        params: DelayModelParams,
        threshold: float = DEFAULT_THRESHOLD,
        features: Sequence[str] = FEATURES,
    ) -> None:
        self._pipeline = pipeline
        self.version = version
        self.params = params
        self.threshold = threshold
        self.features = tuple(features)

    def predict_proba(self, features: DelayFeatures) -> float:
        """Probability that the shipment ends up delivered after its promise."""
        return self.predict_proba_many([features])[0]

    def predict_proba_many(self, features: Sequence[DelayFeatures]) -> list[float]:
        if not features:
            return []
        one_thread()
        probabilities = self._pipeline.predict_proba(_matrix(features, self.features))[:, 1]
        return [float(p) for p in probabilities]

    def with_threshold(self, threshold: float) -> DelayModel:
        """Same fitted model, another operating point (chosen on validation data)."""
        return DelayModel(
            pipeline=self._pipeline,
            version=self.version,
            params=self.params,
            threshold=threshold,
            features=self.features,
        )

    def to_bytes(self) -> bytes:
        """The model in skops format: plain data and the pipeline's state, never a pickle."""
        from orderops.detect.model_artifacts import dump_artifact

        payload = {
            "format": FILE_FORMAT,
            "kind": "delay",
            "version": self.version,
            "params": asdict(self.params),
            "threshold": self.threshold,
            "features": list(self.features),
            "sklearn": sklearn.__version__,
            "pipeline": self._pipeline,
        }
        return dump_artifact(payload)

    @classmethod
    def from_bytes(cls, data: bytes, *, origin: str = "model") -> DelayModel:
        """A model from ``to_bytes``; skops builds only the types ``TRUSTED_TYPES`` names,
        so bytes from anywhere cannot run code, and anything else is a ``ModelFileError``.
        An artifact without a feature list was written before there was one: it reads
        ``FEATURES_V1``."""
        from orderops.detect.model_artifacts import load_artifact

        payload = load_artifact(data, trusted=TRUSTED_TYPES, origin=origin)
        if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
            raise ModelFileError(f"{origin} is not a delay model of format {FILE_FORMAT}")
        if payload.get("sklearn") != sklearn.__version__:
            raise ModelFileError(
                f"{origin} was trained with scikit-learn {payload.get('sklearn')}, "
                f"this process has {sklearn.__version__}; retrain it"
            )
        pipeline = payload.get("pipeline")
        if not isinstance(pipeline, Pipeline):
            raise ModelFileError(f"{origin} holds no fitted pipeline")
        features = tuple(payload.get("features") or FEATURES_V1)
        unknown = [name for name in features if name not in KNOWN_FEATURES]
        if unknown:
            raise ModelFileError(f"{origin} reads features this version does not know: {unknown}")
        return cls(
            pipeline=pipeline,
            version=str(payload["version"]),
            params=DelayModelParams(**{"monotone": False, **payload["params"]}),
            threshold=float(payload["threshold"]),
            features=features,
        )

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> DelayModel:
        """Load a file written by ``save`` (skops: it cannot run code when read)."""
        return cls.from_bytes(path.read_bytes(), origin=str(path))


def train_delay_model(
    rows: Sequence[DelayTrainingRow],
    *,
    params: DelayModelParams | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    features: Sequence[str] = FEATURES,
) -> DelayModel:
    """Fit the pipeline on labelled snapshots, reading ``features`` of each; deterministic
    for fixed rows, params and features."""
    params = params or DelayModelParams()
    outcomes = {row.late for row in rows}
    if len(outcomes) < 2:
        raise TrainingDataError("training needs both late and on-time snapshots")
    pipeline = _pipeline(params, features)
    labels = np.array([int(row.late) for row in rows])
    pipeline.fit(_matrix([row.features for row in rows], features), labels)
    return DelayModel(
        pipeline=pipeline,
        version=model_version(rows, params, features),
        params=params,
        threshold=threshold,
        features=features,
    )
