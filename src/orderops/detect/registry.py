"""The registry of order detectors, one per exception type that judges a single order.

``integration_silence`` is judged per source (``detect.silence``), not per order, so it
is not in ``DETECTORS``; the sweep runs it beside them.
"""

from __future__ import annotations

from orderops.detect.delay_predicted import DelayScorer, ShipmentDelayPredictedDetector
from orderops.detect.orders import CustomerChasingDetector, StuckOrderDetector
from orderops.detect.payments import (
    AuthorizationExpiringDetector,
    DuplicateChargeDetector,
    FraudReviewDetector,
    PaymentFailedDetector,
    PaymentHoldDetector,
    RefundPendingDetector,
)
from orderops.detect.shipping import (
    AddressProblemDetector,
    CarrierExceptionDetector,
    PartialFulfillmentOverdueDetector,
    PreDispatchDelayDetector,
    ShipmentLateDetector,
)
from orderops.detect.stock import InventoryShortfallDetector, SubstitutionNeededDetector
from orderops.detect.ticket_requests import CancelRequestedDetector
from orderops.detect.verdict import Detector


def build_detectors(*, delay_scorer: DelayScorer | None = None) -> tuple[Detector, ...]:
    """Every order detector; the predicted-delay one scores only when given a scorer."""
    return (
        PaymentFailedDetector(),
        PaymentHoldDetector(),
        AuthorizationExpiringDetector(),
        FraudReviewDetector(),
        DuplicateChargeDetector(),
        RefundPendingDetector(),
        InventoryShortfallDetector(),
        SubstitutionNeededDetector(),
        ShipmentDelayPredictedDetector(delay_scorer),
        ShipmentLateDetector(),
        PreDispatchDelayDetector(),
        CarrierExceptionDetector(),
        AddressProblemDetector(),
        StuckOrderDetector(),
        PartialFulfillmentOverdueDetector(),
        CustomerChasingDetector(),
        CancelRequestedDetector(),
    )


DETECTORS: tuple[Detector, ...] = build_detectors()
