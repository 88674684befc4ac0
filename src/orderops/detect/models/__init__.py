"""Learned models of the detect layer: shipment delay risk and ticket topics.

Pure library code: they score, they never act (the workflow decides). Training
data arrives as plain rows (``ShipmentRecord``, ``LabelledText``); adapters map
DataCo, Olist and the simulator's history to them.
"""

from orderops.detect.models.delay_evaluation import (
    DelayEvaluation,
    DetectorResult,
    evaluate_delay_model,
)
from orderops.detect.models.delay_features import (
    DelayFeatures,
    DelayTrainingRow,
    build_training_rows,
    features_at,
)
from orderops.detect.models.delay_model import (
    DelayModel,
    DelayModelParams,
    ModelFileError,
    TrainingDataError,
    train_delay_model,
)
from orderops.detect.models.keyword_baseline import classify_by_keywords
from orderops.detect.models.lane_history import LaneHistory
from orderops.detect.models.olist import LabelledText
from orderops.detect.models.shipments import ShipmentRecord, lane_key
from orderops.detect.models.text_classifier import TextClassifier, train_text_classifier
from orderops.detect.models.text_evaluation import TextEvaluation, evaluate_text_classifier
from orderops.detect.models.topics import TicketTopic

__all__ = [
    "DelayEvaluation",
    "DelayFeatures",
    "DelayModel",
    "DelayModelParams",
    "DelayTrainingRow",
    "DetectorResult",
    "LabelledText",
    "LaneHistory",
    "ModelFileError",
    "ShipmentRecord",
    "TextClassifier",
    "TextEvaluation",
    "TicketTopic",
    "TrainingDataError",
    "build_training_rows",
    "classify_by_keywords",
    "evaluate_delay_model",
    "evaluate_text_classifier",
    "features_at",
    "lane_key",
    "train_delay_model",
    "train_text_classifier",
]
