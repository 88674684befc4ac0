"""The detectors' public names in one place (they live in small modules by family).

Kept so callers written when only payment-failed and shipment-late existed keep working.
"""

from __future__ import annotations

from orderops.detect.payments import PaymentFailedDetector
from orderops.detect.registry import DETECTORS, build_detectors
from orderops.detect.shipping import ShipmentLateDetector
from orderops.detect.verdict import Detector, Thresholds, Verdict
from orderops.domain.statuses import OWES_DELIVERY

__all__ = [
    "DETECTORS",
    "OWES_DELIVERY",
    "Detector",
    "PaymentFailedDetector",
    "ShipmentLateDetector",
    "Thresholds",
    "Verdict",
    "build_detectors",
]
