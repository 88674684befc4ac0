"""The store's policy document, and the promise rule the reference reader computes from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from orderops.detect.thresholds import config_from_policy
from orderops.domain.cases import ExceptionType
from orderops.domain.policy import parse_policy, promise_for
from orderops.sim.providers import spec
from orderops.sim.providers.policy import SERVICE_LEVELS, policy_document, policy_yaml
from orderops.sim.providers.promise import PolicyUnreadable, read_policy

NY = ZoneInfo("America/New_York")


def _deadlines(code: str, placed: datetime) -> tuple[datetime, datetime]:
    policy = read_policy(policy_document())
    window = policy.window_for(code)
    assert window is not None
    found = policy.deadlines(window, placed)
    return found.handling_due, found.promised_by


def _end_of(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 23, 59, 59, tzinfo=NY).astimezone(UTC)


def test_the_written_policy_is_one_the_desk_accepts_with_every_threshold_known() -> None:
    document = yaml.safe_load(policy_yaml())

    policy = parse_policy(document)
    config = config_from_policy(policy, strict=True)

    assert policy.default_window == "standard"
    assert {level.lower() for level in policy.service_levels} == {k.lower() for k in SERVICE_LEVELS}
    # The desk is configured with the numbers the written rules use.
    assert config.thresholds(ExceptionType.PAYMENT_HOLD)["capture_wait_hours"] == 48
    assert config.thresholds(ExceptionType.PAYMENT_FAILED)["grace_minutes"] == 30
    assert config.thresholds(ExceptionType.STUCK_ORDER)["awaiting_payment_hours"] == 6
    chasing = config.thresholds(ExceptionType.CUSTOMER_CHASING)
    assert (chasing["tickets"], chasing["window_hours"]) == (spec.CHASING_TICKETS, 72)


@pytest.mark.parametrize(
    ("code", "placed_local", "handling", "promise"),
    [
        # Tuesday before the cut-off: day zero is Tuesday; transit skips Friday July 4.
        ("standard", datetime(2025, 7, 1, 10, 0), (2025, 7, 2), (2025, 7, 9)),
        # Tuesday after the cut-off: day zero is Wednesday; Friday July 4 is a holiday.
        ("standard", datetime(2025, 7, 1, 15, 0), (2025, 7, 3), (2025, 7, 10)),
        # Saturday: day zero is Monday.
        ("expedited", datetime(2025, 7, 5, 9, 0), (2025, 7, 8), (2025, 7, 10)),
        # Express has no handling day and a noon cut-off.
        ("express", datetime(2025, 7, 3, 11, 0), (2025, 7, 3), (2025, 7, 7)),
        ("Express Shipping", datetime(2025, 7, 3, 12, 30), (2025, 7, 7), (2025, 7, 8)),
        # An unknown shipping line gets the default (standard) window.
        ("Pigeon Post", datetime(2025, 7, 1, 10, 0), (2025, 7, 2), (2025, 7, 9)),
        # Across the end of daylight saving time (November 2): the end of the local day.
        ("standard", datetime(2025, 10, 31, 15, 0), (2025, 11, 4), (2025, 11, 10)),
    ],
)
def test_promises_count_business_days_from_day_zero(
    code: str,
    placed_local: datetime,
    handling: tuple[int, int, int],
    promise: tuple[int, int, int],
) -> None:
    due = _deadlines(code, placed_local.replace(tzinfo=NY))

    assert due == (_end_of(*handling), _end_of(*promise))


def test_the_reader_and_the_desk_read_the_policy_the_same_way() -> None:
    """Two independent implementations of one written rule agree on every sampled order."""
    ours = read_policy(policy_document())
    desk = parse_policy(yaml.safe_load(policy_yaml()))
    placed = datetime(2025, 6, 26, tzinfo=UTC)
    disagreements = []
    while placed < datetime(2025, 7, 16, tzinfo=UTC):
        for level in (*SERVICE_LEVELS, None):
            window = ours.window_for(level)
            assert window is not None
            mine = ours.deadlines(window, placed)
            theirs = promise_for(desk, level, placed)
            assert theirs is not None
            if (mine.promised_by, mine.handling_due, mine.window) != (
                theirs.due,
                theirs.handling_due,
                theirs.window,
            ):
                disagreements.append((level, placed))
        placed += timedelta(minutes=47)

    assert disagreements == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "policy"),
        ({"service_levels": {"Drone": "teleport"}}, "service_levels"),
        ({"default_window": "teleport"}, "default_window"),
    ],
)
def test_a_policy_the_rule_cannot_use_is_refused_by_path(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(PolicyUnreadable, match=message):
        read_policy({**policy_document(), **change})


def test_a_window_with_only_business_days_hands_over_after_one_day() -> None:
    document = policy_document()
    document["promise_windows"] = {"standard": {"business_days": 3, "cutoff": "14:00"}}
    document["service_levels"] = {"Standard Shipping": "standard"}

    window = read_policy(document).windows["standard"]

    assert (window.handling_days, window.transit_days) == (1, 2)
