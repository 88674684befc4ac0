"""A sweep scores its batch's parcels in one model call (``prime``) before judging its
orders one by one: each verdict is the one an unprimed detector gives, and no judgement of
a primed order calls the model again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderops.detect.delay_predicted import DelayScorer, ShipmentDelayPredictedDetector
from orderops.detect.model_registry_scoring import shipped_delay_model, shipped_late_share
from orderops.detect.models.lane_history import LaneHistory
from orderops.domain.facts import OrderSnapshot, ShipmentFact
from orderops.domain.statuses import FinancialStatus

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def _order(n: int) -> OrderSnapshot:
    """Order ``n``: dispatched ``n`` days ago, promised in ``6 - n`` days; the first scan
    came a day after the label (so the parcels differ in every feature the model reads)."""
    dispatched = NOW - n * 24 * H
    return OrderSnapshot(
        order_ref=f"o-{n}",
        number=None,
        cancelled=False,
        currency="USD",
        total_minor=5000,
        placed_at=dispatched - 2 * H,
        promised_by=NOW + (6 - n) * 24 * H,
        financial_status=FinancialStatus.PAID,
        delivered_at=None,
        shipments=(
            ShipmentFact(
                carrier="ups",
                tracking_number=f"1Z{n:03}",
                status="in_transit",
                status_at=dispatched + 24 * H,
                delivered_at=None,
                label_at=dispatched,
                first_scan_at=dispatched + 24 * H,
                service="ground",
            ),
        ),
    )


def _detector() -> ShipmentDelayPredictedDetector:
    scorer = DelayScorer(
        model=shipped_delay_model(),
        history=LaneHistory([]),
        source="shipped default",
        generic=True,
        trained_late_share=shipped_late_share(),
    )
    return ShipmentDelayPredictedDetector(scorer)


def _counting(
    monkeypatch: pytest.MonkeyPatch, detector: ShipmentDelayPredictedDetector
) -> list[int]:
    """The number of parcels each model call scored."""
    assert detector.scorer is not None
    model = detector.scorer.model
    calls: list[int] = []
    original = type(model).predict_proba_many

    def counted(self: Any, features: Any) -> list[float]:
        calls.append(len(features))
        return original(self, features)

    monkeypatch.setattr(type(model), "predict_proba_many", counted)
    return calls


def test_a_primed_batch_is_scored_in_one_call_with_the_verdicts_of_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    orders = [_order(n) for n in range(1, 6)]
    thresholds = {"score": 0.0}  # every scored parcel is detected, with its score
    alone = [_detector().judge(o, now=NOW, thresholds=thresholds) for o in orders]

    primed = _detector()
    calls = _counting(monkeypatch, primed)
    primed.prime(orders, now=NOW)
    together = [primed.judge(o, now=NOW, thresholds=thresholds) for o in orders]

    assert calls == [len(orders)]
    assert together == alone
    assert len({v.facts["score"] for v in together}) > 1  # the parcels were told apart


def test_an_order_the_batch_did_not_hold_is_scored_on_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    detector = _detector()
    calls = _counting(monkeypatch, detector)
    detector.prime([_order(1)], now=NOW)
    later = NOW + H  # another moment: other features, so not among the primed scores

    verdict = detector.judge(_order(2), now=later, thresholds={"score": 0.0})

    assert calls == [1, 1]
    assert verdict == _detector().judge(_order(2), now=later, thresholds={"score": 0.0})
