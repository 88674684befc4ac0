"""Predicted delay: the learned model's "this parcel will miss its promise", before it does.

The detector only scores; it needs a ``DelayScorer`` (a fitted model plus the lane
history its lane feature reads). The worker's sweep gives it the tenant's promoted model
from the model registry, else the default shipped in the package
(``detect/model_registry_scoring.py``), so a fresh install predicts from day one. Without
a scorer (events judged in the pipeline, or a caller that passes none) it stays silent
rather than guessing. It is time-based: the score moves as the clock moves, so only
sweeps open its cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from orderops.detect.thresholds import DEFAULTS
from orderops.detect.verdict import Thresholds, Verdict, clear, quiet
from orderops.domain.cases import ExceptionType
from orderops.domain.facts import OrderSnapshot, ShipmentFact

if TYPE_CHECKING:
    # The models pull in scikit-learn: imported only where a scorer is actually used.
    from orderops.detect.models.delay_features import DelayFeatures
    from orderops.detect.models.delay_model import DelayModel
    from orderops.detect.models.lane_history import LaneHistory
    from orderops.detect.models.shipments import ShipmentRecord


@dataclass(frozen=True)
class DelayScorer:
    model: DelayModel
    history: LaneHistory
    source: str = "given"
    """Where the model came from ("promoted v3", "shipped default"): kept on the verdict."""
    generic: bool = False
    """The model learned from another business's data: it sees no carrier, service or
    lane names (``generic_record``), only times, and its lane history is one lane."""
    trained_late_share: float | None = None
    """The late share of the data a generic model learned from: its scores are moved to the
    tenant's own late share (``shifted``). None: the model learned the tenant's own."""


def shifted(score: float, *, trained: float, tenant: float) -> float:
    """``score`` as if the model had learned where ``tenant`` of parcels are late rather
    than ``trained`` (the prior-shift correction of Saerens, Latinne and Decaestecker,
    2002: the odds scale by the ratio of the base rates' odds).

    The shipped default learned where 59% of parcels were late; a store where 5% are sits
    below anything it saw, and trees do not extrapolate, so unshifted it flagged 180 of
    600 orders of the simulated store (32 were late). A tenant's own model learned its own
    base rate and is never shifted.
    """
    clamp = min(max(tenant, 0.001), 0.999), min(max(trained, 0.001), 0.999)
    ratio = (clamp[0] / (1 - clamp[0])) / (clamp[1] / (1 - clamp[1]))
    odds = score / max(1 - score, 1e-9) * ratio
    return odds / (1 + odds)


def generic_record(record: ShipmentRecord) -> ShipmentRecord:
    """``record`` without the names that mean nothing outside the data a model came from."""
    from dataclasses import replace

    from orderops.detect.models.shipments import UNKNOWN

    return replace(
        record, carrier=UNKNOWN, service_level=UNKNOWN, origin_region="", destination_region=""
    )


def _dispatched(order: OrderSnapshot, shipment: ShipmentFact) -> datetime | None:
    """When the parcel left, if the model can score it (it has left and a promise)."""
    if order.promised_by is None:
        return None
    return shipment.first_scan_at or shipment.label_at


def shipment_record(order: OrderSnapshot, shipment: ShipmentFact) -> ShipmentRecord | None:
    """The model's view of a live shipment (see ``detect.models.shipments`` for the mapping)."""
    dispatched = _dispatched(order, shipment)
    if dispatched is None or order.promised_by is None:
        return None
    from orderops.detect.models.shipments import ShipmentRecord

    region = ""
    if order.ship_to:
        region = str(order.ship_to.get("region") or order.ship_to.get("country") or "")
    return ShipmentRecord(
        shipment_id=shipment.tracking_number,
        carrier=shipment.carrier.lower(),
        service_level=shipment.service or "unknown",
        origin_region=shipment.origin_location or "",
        destination_region=region,
        dispatched_at=dispatched,
        promised_at=order.promised_by,
        delivered_at=shipment.delivered_at,
        scan_times=tuple(t for t in (shipment.first_scan_at, shipment.status_at) if t),
    )


class ShipmentDelayPredictedDetector:
    exception_type = ExceptionType.SHIPMENT_DELAY_PREDICTED
    opens_on_events = False

    def __init__(self, scorer: DelayScorer | None = None) -> None:
        self.scorer = scorer
        self._scored: dict[DelayFeatures, float] = {}
        """Scores ``prime`` computed, by the features scored: a model's score is a function
        of its features alone, so a judgement finding its features here gets the score
        the model would give it."""

    def prime(self, orders: Sequence[OrderSnapshot], *, now: datetime) -> None:
        """Score at once the parcels ``judge`` would score for ``orders`` at ``now``, one
        model call for all instead of one per order (a sweep's batch of due orders; a call
        costs milliseconds whatever its size). Only the last batch is kept; ``judge`` scores
        what it does not find here itself."""
        self._scored = {}
        if self.scorer is None:
            return
        features = list(
            dict.fromkeys(f for order in orders for f in self._features(order, now=now)[1])
        )
        scores = self.scorer.model.predict_proba_many(features)
        self._scored = dict(zip(features, scores, strict=True))

    def _features(
        self, order: OrderSnapshot, *, now: datetime
    ) -> tuple[list[ShipmentRecord], list[DelayFeatures]]:
        """The order's live parcels the model scores at ``now``, and their features."""
        assert self.scorer is not None
        if order.cancelled or order.delivered_at is not None or order.promised_by is None:
            return [], []
        records = [
            r
            for s in order.shipments
            if s.delivered_at is None
            and (r := shipment_record(order, s)) is not None
            and r.dispatched_at <= now
        ]
        if self.scorer.generic:
            records = [generic_record(r) for r in records]
        from orderops.detect.models.delay_features import features_at

        return records, [features_at(r, now, self.scorer.history) for r in records]

    def _scores(self, features: Sequence[DelayFeatures]) -> list[float]:
        assert self.scorer is not None
        if all(f in self._scored for f in features):
            return [self._scored[f] for f in features]
        return self.scorer.model.predict_proba_many(features)

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict:
        settings = {**DEFAULTS[self.exception_type], **(thresholds or {})}
        if order.cancelled:
            return clear(self.exception_type, "order cancelled")
        if order.delivered_at is not None:
            return clear(self.exception_type, "delivered")
        if order.promised_by is None or order.promised_by <= now:
            return quiet(self.exception_type)
        live = [s for s in order.shipments if s.delivered_at is None]
        if not any((at := _dispatched(order, s)) is not None and at <= now for s in live):
            return quiet(self.exception_type)
        recheck = min(now + timedelta(hours=settings["recheck_hours"]), order.promised_by)
        if self.scorer is None:
            # Events are judged without the model (nor scikit-learn, which its records
            # import); the sweep, which holds it, looks next.
            return quiet(self.exception_type, recheck_at=recheck)
        records, features = self._features(order, now=now)
        model = self.scorer.model
        scores = self._scores(features)
        trained = self.scorer.trained_late_share
        if trained is not None:
            scores = [
                shifted(s, trained=trained, tenant=f.lane_late_rate)
                for s, f in zip(scores, features, strict=True)
            ]
        best, record = max(zip(scores, records, strict=True), key=lambda pair: pair[0])
        threshold = settings.get("score", model.threshold)
        if best < threshold:
            return quiet(self.exception_type, recheck_at=recheck)
        return Verdict(
            exception_type=self.exception_type,
            detected=True,
            cleared=False,
            summary=(
                f"{record.carrier} {record.shipment_id} for order {order.label} is likely to miss "
                f"its promise of {order.promised_by:%Y-%m-%d %H:%M} UTC (risk {best:.0%})"
            ),
            evidence_key=f"predicted:{record.shipment_id}",
            detected_at=now,
            time_based=True,
            recheck_at=recheck,
            facts={
                "score": round(best, 4),
                "threshold": threshold,
                "model_version": model.version,
                "model_source": self.scorer.source,
                "tracking_number": record.shipment_id,
            },
        )
