"""Delay models travel as skops bytes: read back identical, refused when they hold anything
a delay model never does (nothing in them runs), and the shipped default is the one its
script builds from the public rows."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import joblib
import pytest
import sklearn

from orderops.detect.delay_predicted import generic_record
from orderops.detect.model_artifacts import dump_artifact
from orderops.detect.model_registry_scoring import shipped_delay_model
from orderops.detect.model_registry_shipped import CARD_PATH, shipped_records, shipped_version
from orderops.detect.models.delay_features import (
    FEATURES,
    FEATURES_V1,
    DelayFeatures,
    DelayTrainingRow,
)
from orderops.detect.models.delay_model import (
    DelayModel,
    DelayModelParams,
    ModelFileError,
    train_delay_model,
)
from orderops.detect.models.shipments import ShipmentRecord

DATASETS = Path(__file__).resolve().parents[1] / "fixtures" / "datasets"


class NotAModelPart:
    """A type no delay model holds: skops must refuse to build it."""


def _rows() -> list[DelayTrainingRow]:
    rows = []
    for i in range(120):
        late = i % 3 == 0
        features = DelayFeatures(
            carrier="ups",
            service_level="ground",
            lane="A->B" if late else "A->C",
            dispatch_weekday=i % 7,
            promise_slack_hours=float(10 + i % 50),
            last_scan_age_hours=float(30 if late else 3),
            lane_late_rate=0.6 if late else 0.1,
            expected_late_hours=float(12 if late else -24),
            recent_expected_late_hours=float(6 if late else -30),
        )
        rows.append(DelayTrainingRow(features, late))
    return rows


@pytest.fixture(scope="module")
def small_model() -> DelayModel:
    return train_delay_model(_rows(), params=DelayModelParams(max_iter=10), threshold=0.4)


def test_skops_bytes_read_back_the_same_model(small_model: DelayModel) -> None:
    probe = [row.features for row in _rows()[::7]]

    again = DelayModel.from_bytes(small_model.to_bytes())

    assert (again.version, again.threshold, again.params) == (
        small_model.version,
        0.4,
        small_model.params,
    )
    assert again.predict_proba_many(probe) == small_model.predict_proba_many(probe)


def old_format_bytes(model: DelayModel) -> bytes:
    """What ``to_bytes`` wrote before models named their features (and before the
    monotone parameter): no feature list, the first seven features."""
    params = {k: v for k, v in asdict(model.params).items() if k != "monotone"}
    return dump_artifact(
        {
            "format": 2,
            "kind": "delay",
            "version": model.version,
            "params": params,
            "threshold": model.threshold,
            "sklearn": sklearn.__version__,
            "pipeline": model._pipeline,
        }
    )


def test_an_artifact_without_a_feature_list_reads_the_first_seven_and_predicts() -> None:
    """Tenants' models in the registry were trained before the remaining-life features."""
    seven = train_delay_model(
        _rows(),
        params=DelayModelParams(max_iter=10, monotone=False),
        threshold=0.4,
        features=FEATURES_V1,
    )
    probe = [row.features for row in _rows()[::7]]

    again = DelayModel.from_bytes(old_format_bytes(seven), origin="registry v1")

    assert again.features == FEATURES_V1
    assert again.params == seven.params
    assert again.predict_proba_many(probe) == seven.predict_proba_many(probe)
    late, on_time = again.predict_proba_many([_rows()[0].features, _rows()[1].features])
    assert late > on_time


def test_a_model_keeps_the_features_it_was_trained_on(small_model: DelayModel) -> None:
    again = DelayModel.from_bytes(small_model.to_bytes())

    assert small_model.features == again.features == FEATURES
    assert "expected_late_hours" in FEATURES


def test_an_artifact_naming_a_feature_this_version_does_not_know_is_refused(
    small_model: DelayModel,
) -> None:
    payload = {
        "format": 2,
        "kind": "delay",
        "version": small_model.version,
        "params": asdict(small_model.params),
        "threshold": 0.4,
        "features": [*FEATURES, "weather"],
        "sklearn": sklearn.__version__,
        "pipeline": small_model._pipeline,
    }

    with pytest.raises(ModelFileError, match="weather"):
        DelayModel.from_bytes(dump_artifact(payload), origin="upload")


def test_bytes_holding_a_type_outside_the_trusted_list_are_refused_unbuilt() -> None:
    data = dump_artifact({"format": 2, "pipeline": NotAModelPart()})

    with pytest.raises(ModelFileError, match="holds types this kind of model never has"):
        DelayModel.from_bytes(data, origin="upload")


@pytest.mark.parametrize("make", ["garbage", "pickle"])
def test_what_is_not_skops_is_refused(make: str, tmp_path: Path) -> None:
    path = tmp_path / "model"
    if make == "pickle":
        joblib.dump({"format": 2, "version": "delay-x"}, path)
    else:
        path.write_bytes(b"not a model at all")

    with pytest.raises(ModelFileError, match="is not a readable skops model"):
        DelayModel.load(path)


def test_the_shipped_default_loads_and_matches_its_card() -> None:
    card = json.loads(CARD_PATH.read_text())
    model = shipped_delay_model()

    assert model.version == card["model_version"]
    assert model.threshold == card["threshold"] >= 0.5
    assert list(model.features) == card["features"]
    assert card["source"]["licence"] == "CC BY 4.0", "only data a release may carry"


def test_the_shipped_default_is_what_its_public_rows_give() -> None:
    """The version hashes the training rows, parameters and library: equal version, equal
    model (training is deterministic), without spending the seconds to train again."""
    records = shipped_records(DATASETS)

    assert shipped_version(records) == json.loads(CARD_PATH.read_text())["model_version"]
    assert {(r.carrier, r.service_level, r.lane) for r in records} == {
        ("unknown", "unknown", "unknown->unknown")
    }


def test_a_borrowed_model_sees_times_not_names() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    record = ShipmentRecord(
        shipment_id="1Z",
        carrier="dhl",
        service_level="express",
        origin_region="WH-1",
        destination_region="CA",
        dispatched_at=at,
        promised_at=at + timedelta(days=2),
        delivered_at=None,
        scan_times=(at,),
    )

    plain = generic_record(record)

    assert (plain.carrier, plain.service_level, plain.lane) == (
        "unknown",
        "unknown",
        "unknown->unknown",
    )
    assert (plain.dispatched_at, plain.promised_at, plain.scan_times) == (
        record.dispatched_at,
        record.promised_at,
        record.scan_times,
    )
