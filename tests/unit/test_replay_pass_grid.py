"""The webhook evaluation's worker passes fall on a fixed UTC grid, as the worker's do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from orderops.evaluation.webhook_replay import _next_boundary


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, second, tzinfo=UTC)


def test_the_next_pass_is_the_next_quarter_hour_by_default() -> None:
    assert _next_boundary(at(10, 7, 30)) == at(10, 15)
    assert _next_boundary(at(10, 15)) == at(10, 30), "a pass is always after the moment"
    assert _next_boundary(at(23, 50)) == at(0, 0) + timedelta(days=1)


def test_a_coarser_grid_passes_on_its_own_boundaries() -> None:
    assert _next_boundary(at(10, 7), timedelta(hours=1)) == at(11, 0)
    assert _next_boundary(at(10, 59, 59), timedelta(hours=1)) == at(11, 0)


def test_the_grid_is_utc_whatever_the_zone_of_the_delivery() -> None:
    berlin = datetime(2026, 11, 20, 11, 7, tzinfo=timezone(timedelta(hours=1)))
    assert _next_boundary(berlin) == at(10, 15)
