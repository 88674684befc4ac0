"""Customer impact: every explanation adds up to its score, and the score sets the priority."""

from __future__ import annotations

import random

import pytest

from orderops.domain.impact import (
    FACTORS,
    PRIORITY_THRESHOLDS,
    Factor,
    ImpactInputs,
    impact_from_dict,
    priority_for,
    score_impact,
)
from orderops.domain.routing import Priority


def random_inputs(rng: random.Random) -> ImpactInputs:
    value = rng.choice([0, 1, 999, rng.randint(0, 2_000_000)])
    return ImpactInputs(
        order_value_minor=value,
        blocked_value_minor=rng.randint(-100, value + 5_000),
        margin_rate=rng.uniform(-0.2, 1.3),
        customer_tier=rng.choice([None, "standard", "vip", "VIP", "gold", "silver", "odd"]),
        lifetime_value_minor=rng.randint(-10, 3_000_000),
        days_late=rng.uniform(-3.0, 30.0),
        prior_exceptions_90d=rng.randint(-1, 20),
        open_tickets=rng.randint(-1, 6),
    )


SEEDED = [random_inputs(random.Random(seed)) for seed in range(500)]


@pytest.mark.parametrize("inputs", SEEDED)
def test_the_contributions_sum_exactly_to_the_score_within_each_cap(inputs: ImpactInputs) -> None:
    scored = score_impact(inputs)

    assert sum(c.points for c in scored.contributions) == scored.score
    assert [c.factor for c in scored.contributions] == list(FACTORS)
    for contribution in scored.contributions:
        assert 0 <= contribution.points <= FACTORS[contribution.factor]
        assert contribution.max_points == FACTORS[contribution.factor]
    assert 0 <= scored.score <= 100
    assert scored.priority == priority_for(scored.score)


def test_the_caps_share_out_exactly_one_hundred_points() -> None:
    assert sum(FACTORS.values()) == 100


def test_the_worst_case_earns_every_point_and_is_p1() -> None:
    worst = ImpactInputs(
        order_value_minor=500_000,
        blocked_value_minor=500_000,
        margin_rate=0.5,
        customer_tier="vip",
        lifetime_value_minor=2_000_000,
        days_late=9.0,
        prior_exceptions_90d=10,
        open_tickets=3,
    )

    scored = score_impact(worst)

    assert (scored.score, scored.priority) == (100, Priority.P1)


def test_a_small_on_time_order_of_a_new_customer_is_p4() -> None:
    scored = score_impact(ImpactInputs(order_value_minor=2_000, blocked_value_minor=0))

    assert scored.priority is Priority.P4
    assert scored.score < 20


@pytest.mark.parametrize(
    ("change", "factor", "points"),
    [
        ({"days_late": 2.5}, Factor.DAYS_LATE, 10),
        ({"days_late": 0.0}, Factor.DAYS_LATE, 0),
        ({"days_late": 50.0}, Factor.DAYS_LATE, 20),
        ({"open_tickets": 1}, Factor.OPEN_TICKETS, 4),
        ({"open_tickets": 2}, Factor.OPEN_TICKETS, 7),
        ({"prior_exceptions_90d": 3}, Factor.PRIOR_EXCEPTIONS, 6),
        ({"customer_tier": "vip"}, Factor.CUSTOMER_TIER, 10),
        ({"customer_tier": "standard"}, Factor.CUSTOMER_TIER, 0),
        ({"blocked_value_minor": 50_000}, Factor.BLOCKED_VALUE, 13),
        ({"blocked_value_minor": 50_000}, Factor.SHARE_BLOCKED, 5),
        ({"blocked_value_minor": 50_000}, Factor.MARGIN_AT_RISK, 5),
        ({"lifetime_value_minor": 250_000}, Factor.LIFETIME_VALUE, 5),
    ],
)
def test_each_factor_turns_its_fact_into_points(
    change: dict[str, object], factor: Factor, points: int
) -> None:
    base: dict[str, object] = {"order_value_minor": 100_000, "blocked_value_minor": 0}
    scored = score_impact(ImpactInputs(**{**base, **change}))  # type: ignore[arg-type]

    contribution = next(c for c in scored.contributions if c.factor is factor)
    assert contribution.points == points


def test_blocked_value_never_exceeds_the_order() -> None:
    scored = score_impact(ImpactInputs(order_value_minor=1_000, blocked_value_minor=9_000_000))

    share = next(c for c in scored.contributions if c.factor is Factor.SHARE_BLOCKED)
    value = next(c for c in scored.contributions if c.factor is Factor.BLOCKED_VALUE)
    assert share.points == FACTORS[Factor.SHARE_BLOCKED]
    assert value.points == 0  # 10.00 of 1,000.00 rounds to nothing
    assert "10.00 blocked" in value.reason


@pytest.mark.parametrize(
    ("score", "priority"),
    [
        (100, Priority.P1),
        (60, Priority.P1),
        (59, Priority.P2),
        (40, Priority.P2),
        (39, Priority.P3),
        (20, Priority.P3),
        (19, Priority.P4),
        (0, Priority.P4),
    ],
)
def test_the_priority_table_maps_scores_at_its_boundaries(score: int, priority: Priority) -> None:
    assert priority_for(score) is priority


def test_the_thresholds_are_ordered_and_cover_every_priority() -> None:
    minimums = [m for m, _ in PRIORITY_THRESHOLDS]

    assert minimums == sorted(minimums, reverse=True)
    assert [p for _, p in PRIORITY_THRESHOLDS] == list(Priority)
    assert minimums[-1] == 0


def test_the_stored_explanation_reads_back_as_the_same_score() -> None:
    scored = score_impact(SEEDED[7])

    assert impact_from_dict(scored.to_dict()) == scored
