"""The shipped delay model learned where 59% of parcels were late: its scores are moved to
the tenant's own late share before they are compared with its threshold."""

from __future__ import annotations

import pytest

from orderops.detect.delay_predicted import shifted
from orderops.detect.model_registry_scoring import shipped_late_share


def test_the_same_base_rate_changes_nothing() -> None:
    assert shifted(0.9, trained=0.3, tenant=0.3) == pytest.approx(0.9)


def test_a_store_with_fewer_late_parcels_gets_lower_scores_in_the_same_order() -> None:
    scores = [0.5, 0.85, 0.95, 0.99]

    moved = [shifted(s, trained=0.59, tenant=0.05) for s in scores]

    assert moved == sorted(moved)
    assert all(m < s for m, s in zip(moved, scores, strict=True))
    # 0.85 was the shipped threshold's edge; on a 5%-late store it is a weak signal
    assert shifted(0.85, trained=0.59, tenant=0.05) == pytest.approx(0.17, abs=0.01)


def test_a_store_with_more_late_parcels_gets_higher_scores() -> None:
    assert shifted(0.5, trained=0.2, tenant=0.6) > 0.5


def test_extreme_rates_stay_finite() -> None:
    assert 0.0 < shifted(0.999999, trained=0.999, tenant=0.0) < 1.0
    assert 0.0 < shifted(0.000001, trained=0.0, tenant=1.0) < 1.0


def test_the_shipped_models_training_late_share_comes_from_its_card() -> None:
    assert shipped_late_share() == pytest.approx(0.5871)
