"""Ground truth for recommendations, and the evaluation against it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.domain.cases import ExceptionType
from orderops.recommend.evaluation import AIM_TOP1, AIM_TOP3, evaluate_recommend
from orderops.sim.labels import Label
from orderops.sim.resolutions import NO_ACTION, _Facts, acceptable_for

AT = datetime(2024, 6, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("exception_type", "facts", "expected"),
    [
        (
            ExceptionType.SHIPMENT_LATE,
            _Facts(tier="vip", promised_by=AT - timedelta(days=5)),
            {"reship"},
        ),
        (
            ExceptionType.SHIPMENT_LATE,
            _Facts(promised_by=AT - timedelta(days=5)),
            {"reship", "refund"},
        ),
        (
            ExceptionType.SHIPMENT_LATE,
            _Facts(promised_by=AT - timedelta(days=1)),
            {"contact_customer", "shipping_upgrade"},
        ),
        (
            ExceptionType.SHIPMENT_LATE,
            _Facts(promised_by=AT - timedelta(days=5), delivered_at=AT),
            {"store_credit", "contact_customer"},
        ),
        (ExceptionType.PAYMENT_FAILED, _Facts(cancelled=True), {NO_ACTION}),
        (ExceptionType.FRAUD_REVIEW, _Facts(dispute=True, fraud=0.9), {"support_handoff"}),
        (
            ExceptionType.CARRIER_EXCEPTION,
            _Facts(address_failed=True),
            {"request_address_correction"},
        ),
        (ExceptionType.INTEGRATION_SILENCE, _Facts(), {"support_handoff"}),
    ],
)
def test_acceptable_resolutions_follow_the_written_rules(
    exception_type: ExceptionType, facts: _Facts, expected: set[str]
) -> None:
    label = Label(exception_type, "o-1", AT - timedelta(days=6))
    acceptable, why = acceptable_for(label, facts, substitutable=False, decide_at=AT)
    assert acceptable == expected
    assert why


def test_every_exception_type_has_a_written_resolution() -> None:
    for exception_type in ExceptionType:
        acceptable, _ = acceptable_for(
            Label(exception_type, "o", AT), _Facts(), substitutable=True, decide_at=AT
        )
        assert acceptable


def test_the_recommender_meets_its_aims_on_the_simulator() -> None:
    result = evaluate_recommend(seeds=[7], days=1.0, orders_per_day=150)
    assert result.cases > 20
    assert {t.exception_type for t in result.types} >= {"payment_failed", "shipment_late"}
    assert result.top1_rate >= AIM_TOP1
    assert result.top3_rate >= AIM_TOP3
    assert result.redteam.blocked_share == 1.0
