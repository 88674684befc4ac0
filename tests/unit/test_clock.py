"""Injected time: fixed clocks for tests, accelerated clocks for the demo, UTC always."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from orderops.domain.clock import AcceleratedClock, FixedClock, ensure_utc

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
MINUS_FIVE = timezone(timedelta(hours=-5))


def test_a_fixed_clock_stays_where_it_is_put() -> None:
    clock = FixedClock(T0)

    assert clock.now() == T0
    assert clock.now() == T0


def test_a_fixed_clock_can_be_set_and_advanced() -> None:
    clock = FixedClock(T0)

    clock.advance(timedelta(minutes=90))
    assert clock.now() == datetime(2026, 11, 20, 13, 30, tzinfo=UTC)

    clock.set(datetime(2027, 1, 1, tzinfo=UTC))
    assert clock.now() == datetime(2027, 1, 1, tzinfo=UTC)

    clock.advance(timedelta(seconds=-1))
    assert clock.now() == datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_a_fixed_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive"):
        FixedClock(datetime(2026, 1, 1))
    clock = FixedClock(T0)
    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2026, 1, 1))
    assert clock.now() == T0


def test_a_fixed_clock_reports_in_utc_whatever_zone_it_was_given() -> None:
    clock = FixedClock(datetime(2026, 11, 20, 14, 0, tzinfo=PLUS_TWO))

    assert clock.now().tzinfo is UTC
    assert clock.now().hour == 12


def test_ensure_utc_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        ensure_utc(datetime(2026, 1, 1, 0, 0))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (datetime(2026, 11, 20, 14, 0, tzinfo=PLUS_TWO), datetime(2026, 11, 20, 12, 0)),
        (datetime(2026, 11, 20, 21, 0, tzinfo=MINUS_FIVE), datetime(2026, 11, 21, 2, 0)),
        (datetime(2026, 11, 20, 12, 0, tzinfo=UTC), datetime(2026, 11, 20, 12, 0)),
    ],
    ids=["+02:00", "-05:00 across midnight", "already UTC"],
)
def test_ensure_utc_converts_offsets_to_utc(given: datetime, expected: datetime) -> None:
    result = ensure_utc(given)

    assert result.tzinfo is UTC
    assert result.replace(tzinfo=None) == expected
    assert result == given


def test_an_accelerated_clock_starts_at_its_start() -> None:
    wall = FixedClock(datetime(2030, 5, 5, 8, 0, tzinfo=UTC))
    clock = AcceleratedClock(T0, 60, wall=wall)

    assert clock.now() == T0


@pytest.mark.parametrize(
    ("factor", "wall_elapsed", "simulated_elapsed"),
    [
        (60, timedelta(minutes=1), timedelta(hours=1)),
        (60, timedelta(seconds=30), timedelta(minutes=30)),
        (1440, timedelta(minutes=1), timedelta(days=1)),
        (1, timedelta(hours=3), timedelta(hours=3)),
        (0.5, timedelta(hours=2), timedelta(hours=1)),
    ],
    ids=["60x one minute", "60x half a minute", "1440x one minute", "real time", "half speed"],
)
def test_an_accelerated_clock_runs_factor_times_faster_than_its_wall_clock(
    factor: float, wall_elapsed: timedelta, simulated_elapsed: timedelta
) -> None:
    wall = FixedClock(datetime(2030, 5, 5, 8, 0, tzinfo=UTC))
    clock = AcceleratedClock(T0, factor, wall=wall)

    wall.advance(wall_elapsed)

    assert clock.now() == T0 + simulated_elapsed


def test_an_accelerated_clock_keeps_running_across_readings() -> None:
    wall = FixedClock(datetime(2030, 5, 5, 8, 0, tzinfo=UTC))
    clock = AcceleratedClock(T0, 60, wall=wall)

    wall.advance(timedelta(minutes=1))
    first = clock.now()
    wall.advance(timedelta(minutes=1))

    assert first == T0 + timedelta(hours=1)
    assert clock.now() == T0 + timedelta(hours=2)


def test_an_accelerated_clock_reports_in_utc_and_refuses_a_naive_start() -> None:
    wall = FixedClock(T0)
    clock = AcceleratedClock(datetime(2026, 11, 20, 14, 0, tzinfo=PLUS_TWO), 10, wall=wall)

    assert clock.now() == T0
    assert clock.now().tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        AcceleratedClock(datetime(2026, 11, 20), 10, wall=wall)
