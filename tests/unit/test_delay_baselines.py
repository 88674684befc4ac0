"""The delay model's baselines are real rules with their own lead times: carrier EDD when
given, the lane's median transit, the last scan's age. ``past_promise`` (AUC 0.5 by
construction) is a reference only and never the best baseline."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from orderops.detect.models.delay_evaluation import (
    CARRIER_EDD,
    LANE_MEDIAN_TRANSIT,
    LAST_SCAN_AGE,
    MIN_LANE_SHIPMENTS,
    MODEL,
    PAST_PROMISE,
    REAL_BASELINES,
    Checkpoint,
    LaneTransit,
    carrier_edd_scorer,
    evaluate_delay_model,
    lane_median_scorer,
    last_scan_age_scores,
)
from orderops.detect.models.delay_features import DelayFeatures
from orderops.detect.models.delay_model import DelayModelParams
from orderops.detect.models.shipments import ShipmentRecord

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def shipment(
    shipment_id: str,
    *,
    dispatched_h: float = 0,
    promised_h: float = 72,
    delivered_h: float | None = 48,
    lane: str = "north",
) -> ShipmentRecord:
    return ShipmentRecord(
        shipment_id=shipment_id,
        carrier="acme",
        service_level="ground",
        origin_region="dc1",
        destination_region=lane,
        dispatched_at=T0 + dispatched_h * HOUR,
        promised_at=T0 + promised_h * HOUR,
        delivered_at=None if delivered_h is None else T0 + delivered_h * HOUR,
    )


def point(record: ShipmentRecord, at_h: float, *, scan_age_h: float = 0.0) -> Checkpoint:
    at = T0 + at_h * HOUR
    features = DelayFeatures(
        carrier=record.carrier,
        service_level=record.service_level,
        lane=record.lane,
        dispatch_weekday=0,
        promise_slack_hours=(record.promised_at - at) / HOUR,
        last_scan_age_hours=scan_age_h,
        lane_late_rate=0.0,
    )
    return Checkpoint(at, features, at < record.promised_at)


def test_the_lane_rule_expects_the_median_of_past_transits_slower_than_the_time_elapsed() -> None:
    # the north lane took 20, 40, 60 ... hours; the south lane is too thin and falls back
    history = [shipment(f"n{i}", delivered_h=20.0 * (i + 1)) for i in range(MIN_LANE_SHIPMENTS)] + [
        shipment("s0", delivered_h=500, lane="south")
    ]
    transit = LaneTransit(history)
    north = shipment("x", promised_h=100, delivered_h=None)
    # at dispatch: median of all 20 north transits (210 h)
    assert transit.expected_arrival(north, T0) == T0 + 210 * HOUR
    # after 300 h only 320..400 remain: expected at 360 h
    assert transit.expected_arrival(north, T0 + 300 * HOUR) == T0 + 360 * HOUR
    # past every transit seen the rule expects it now
    assert transit.expected_arrival(north, T0 + 450 * HOUR) == T0 + 450 * HOUR
    south = shipment("y", lane="south", delivered_h=None)
    assert transit.expected_arrival(south, T0) == T0 + 220 * HOUR  # all 21 lanes' median
    scores = lane_median_scorer(transit)([(north, point(north, 0))])
    assert scores == [110.0]  # expected 210 h against a 100 h promise


def test_the_edd_rule_scores_hours_past_the_promise_and_nothing_without_an_edd() -> None:
    a, b = shipment("a", promised_h=72), shipment("b", promised_h=72)
    scorer = carrier_edd_scorer({"a": T0 + 90 * HOUR})
    assert scorer([(a, point(a, 0)), (b, point(b, 0))]) == [18.0, 0.0]


def test_last_scan_age_is_a_score_not_a_yes_or_no() -> None:
    a = shipment("a")
    assert last_scan_age_scores(
        [(a, point(a, 10, scan_age_h=10)), (a, point(a, 60, scan_age_h=60))]
    ) == [
        10.0,
        60.0,
    ]


@pytest.fixture(scope="module")
def lanes_with_a_slow_one() -> list[ShipmentRecord]:
    """Two lanes over 60 days: 'slow' takes about 90 h, 'fast' about 40 h; promise 72 h."""
    rng = random.Random(5)
    records = []
    for n in range(400):
        lane = "slow" if n % 3 == 0 else "fast"
        transit = rng.gauss(90 if lane == "slow" else 40, 15)
        dispatched = n * 3.6
        records.append(
            shipment(
                f"s{n}",
                dispatched_h=dispatched,
                promised_h=dispatched + 72,
                delivered_h=dispatched + max(transit, 5),
                lane=lane,
            )
        )
    return records


def test_the_evaluation_compares_the_model_with_the_best_real_rule(
    lanes_with_a_slow_one: list[ShipmentRecord],
) -> None:
    evaluation = evaluate_delay_model(
        lanes_with_a_slow_one,
        dataset="two-lanes",
        step=timedelta(hours=24),
        params=DelayModelParams(max_iter=40),
    )
    names = [r.name for r in evaluation.results]
    assert names[0] == MODEL
    assert {LANE_MEDIAN_TRANSIT, LAST_SCAN_AGE, PAST_PROMISE} <= set(names)
    assert CARRIER_EDD not in names  # not given
    best = evaluation.best_baseline()
    assert best.name in REAL_BASELINES
    # the lane rule knows the slow lane from the first day: far better than chance, early
    lane = evaluation.result(LANE_MEDIAN_TRANSIT)
    assert lane.auc > 0.8
    assert lane.median_lead_time_hours is not None
    assert lane.median_lead_time_hours > 24
    assert best.auc >= lane.auc
    assert evaluation.auc_gap == pytest.approx(evaluation.result(MODEL).auc - best.auc)
    # past_promise is constant before the promise: AUC 0.5, no lead, never the baseline
    assert evaluation.result(PAST_PROMISE).auc == 0.5
    assert evaluation.result(PAST_PROMISE).median_lead_time_hours == 0.0


def test_a_given_carrier_edd_is_scored_as_a_baseline(
    lanes_with_a_slow_one: list[ShipmentRecord],
) -> None:
    # an oracle-like EDD: the actual delivery time
    edd = {
        r.shipment_id: r.delivered_at for r in lanes_with_a_slow_one if r.delivered_at is not None
    }
    evaluation = evaluate_delay_model(
        lanes_with_a_slow_one,
        dataset="two-lanes",
        step=timedelta(hours=24),
        params=DelayModelParams(max_iter=40),
        carrier_edd=edd,
    )
    result = evaluation.result(CARRIER_EDD)
    assert result.auc == pytest.approx(1.0)
    assert evaluation.best_baseline().name == CARRIER_EDD
    assert evaluation.auc_gap <= 0.0
