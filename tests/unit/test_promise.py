"""Promises from the fulfillment policy: which window an order's shipping line buys, and
when its parcel is due with the carrier (handling) and at the customer (delivery).

Every deadline is the end of a business day in the policy's zone: cut-offs, weekends,
holidays and the zone's summer time all move it, and the tables below pin each one.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from orderops.domain.policy import (
    FulfillmentPolicy,
    InvalidPolicy,
    Promise,
    parse_policy,
    policy_document,
    promise_for,
    promised_by,
)

DOCUMENT: dict[str, Any] = {
    "timezone": "Europe/London",
    "promise_windows": {
        "standard": {"handling_days": 1, "transit_days": 2, "cutoff": "14:00"},
        "express": {"business_days": 1, "cutoff": "12:00"},
        "same_day": {"business_days": 0, "cutoff": "10:00"},
        "bulky": {"business_days": 5, "handling_days": 2, "cutoff": "14:00"},
    },
    "service_levels": {"Standard Shipping": "standard", "expedited": "express"},
    "holidays": ["2026-12-25", "2026-12-28", "2027-01-01"],
    "substitutions": {"allowed_categories": [], "max_price_increase_pct": 0},
    "refund_limits": {
        "currency": "GBP",
        "auto_approve_under_minor": 0,
        "finance_approval_over_minor": 0,
    },
}


def policy(**changes: Any) -> FulfillmentPolicy:
    document = copy.deepcopy(DOCUMENT)
    document.update(changes)
    return parse_policy(document)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def end_of(day: str, offset: str = "+00:00") -> str:
    """The ISO text of a deadline: 23:59:59 local on ``day``, written in UTC."""
    local = datetime.fromisoformat(f"{day}T23:59:59{offset}")
    return local.astimezone(UTC).isoformat()


@pytest.mark.parametrize(
    ("level", "placed", "handling", "due"),
    [
        # London in November is UTC. 2026-11-16 is a Monday.
        ("standard", "2026-11-16T09:00", "2026-11-17", "2026-11-19"),
        ("standard", "2026-11-16T13:59:59", "2026-11-17", "2026-11-19"),
        ("standard", "2026-11-16T14:00", "2026-11-18", "2026-11-20"),  # at the cut-off: next day
        ("standard", "2026-11-20T15:00", "2026-11-24", "2026-11-26"),  # Friday late: from Monday
        ("standard", "2026-11-21T09:00", "2026-11-24", "2026-11-26"),  # Saturday: from Monday
        ("standard", "2026-11-22T23:30", "2026-11-24", "2026-11-26"),  # Sunday night
        ("bulky", "2026-11-16T09:00", "2026-11-18", "2026-11-23"),  # 2 handling + 3 transit
        ("same_day", "2026-11-16T09:59", "2026-11-16", "2026-11-16"),
        ("same_day", "2026-11-16T10:00", "2026-11-17", "2026-11-17"),
        # Christmas Eve (Thursday) before noon: Friday and Monday are holidays.
        ("express", "2026-12-24T11:00", "2026-12-29", "2026-12-29"),
        # Placed on a holiday: day zero is the next business day.
        ("standard", "2026-12-25T09:00", "2026-12-30", "2027-01-04"),
    ],
)
def test_deadlines_count_business_days_from_the_cutoff(
    level: str, placed: str, handling: str, due: str
) -> None:
    promise = promise_for(policy(), level, utc(placed))

    assert promise == Promise(
        due=datetime.fromisoformat(end_of(due)),
        window=level,
        handling_due=datetime.fromisoformat(end_of(handling)),
    )


@pytest.mark.parametrize(
    ("placed", "handling", "due"),
    [
        # 12:30 UTC in July is 13:30 in London (BST): before the 14:00 cut-off.
        ("2026-07-01T12:30", end_of("2026-07-02", "+01:00"), end_of("2026-07-06", "+01:00")),
        # 13:30 UTC on the Friday before the clocks go back is 14:30 local: after the
        # cut-off, so day zero is Monday, already in winter time.
        ("2026-10-23T13:30", end_of("2026-10-27"), end_of("2026-10-29")),
        # The same UTC time a week later is 13:30 local (GMT): before the cut-off.
        ("2026-10-30T13:30", end_of("2026-11-02"), end_of("2026-11-04")),
        # Handling ends in summer time, delivery in winter time.
        ("2026-10-22T09:00", end_of("2026-10-23", "+01:00"), end_of("2026-10-27")),
    ],
)
def test_summer_time_moves_both_the_cutoff_and_the_end_of_day(
    placed: str, handling: str, due: str
) -> None:
    promise = promise_for(policy(), "standard", utc(placed))

    assert promise is not None
    assert promise.handling_due is not None
    assert (promise.handling_due.isoformat(), promise.due.isoformat()) == (handling, due)


def test_the_policy_zone_decides_the_local_day_not_utc() -> None:
    # New York switches to summer time on Sunday 2026-03-08. Friday 20:00 UTC is 15:00
    # local (EST), after the cut-off: day zero is Monday, and Monday is in EDT.
    promise = promise_for(policy(timezone="America/New_York"), "standard", utc("2026-03-06T20:00"))

    assert promise is not None
    assert promise.handling_due == datetime.fromisoformat(end_of("2026-03-10", "-04:00"))
    assert promise.due == datetime.fromisoformat(end_of("2026-03-12", "-04:00"))
    assert promise.due.tzinfo is UTC


@pytest.mark.parametrize(
    ("shipping_line", "window"),
    [
        ("Standard Shipping", "standard"),
        ("standard shipping", "standard"),
        ("  STANDARD   shipping ", "standard"),
        ("expedited", "express"),
        ("EXPEDITED", "express"),
        ("Express", "express"),  # a window's own name needs no mapping
        ("bulky", "bulky"),
    ],
)
def test_shipping_lines_map_to_windows_whatever_their_case(shipping_line: str, window: str) -> None:
    promise = promise_for(policy(), shipping_line, utc("2026-11-16T09:00"))

    assert promise is not None
    assert promise.window == window


@pytest.mark.parametrize("shipping_line", ["Drone Delivery", "", "   ", None])
def test_unknown_or_missing_shipping_lines_get_no_promise_without_a_default(
    shipping_line: str | None,
) -> None:
    assert promise_for(policy(), shipping_line, utc("2026-11-16T09:00")) is None


@pytest.mark.parametrize("shipping_line", ["Drone Delivery", None])
def test_the_default_window_covers_unknown_and_missing_shipping_lines(
    shipping_line: str | None,
) -> None:
    promise = promise_for(policy(default_window="express"), shipping_line, utc("2026-11-16T09:00"))

    assert promise is not None
    assert promise.window == "express"
    assert promise.due == datetime.fromisoformat(end_of("2026-11-17"))


def test_a_promise_needs_a_time_with_a_zone() -> None:
    with pytest.raises(ValueError, match="must carry a time zone"):
        promise_for(policy(), "standard", datetime(2026, 11, 16, 9, 0))


def test_promised_by_names_a_window_and_agrees_with_promise_for() -> None:
    placed = utc("2026-11-20T15:00")
    promise = promise_for(policy(), "standard", placed)

    assert promise is not None
    assert promised_by(policy(), "standard", placed) == promise.due
    with pytest.raises(KeyError, match="Standard Shipping"):
        promised_by(policy(), "Standard Shipping", placed)  # a line, not a window name


@pytest.mark.parametrize(
    ("window", "handling", "transit"),
    [
        ({"business_days": 3, "cutoff": "14:00"}, 1, 2),
        ({"business_days": 0, "cutoff": "14:00"}, 0, 0),
        ({"business_days": 4, "transit_days": 1, "cutoff": "14:00"}, 3, 1),
        ({"handling_days": 2, "transit_days": 0, "cutoff": "14:00"}, 2, 0),
        ({"business_days": 3, "handling_days": 1, "transit_days": 2, "cutoff": "14:00"}, 1, 2),
    ],
)
def test_a_window_splits_into_handling_and_transit(
    window: dict[str, Any], handling: int, transit: int
) -> None:
    parsed = policy(promise_windows={"w": window}, service_levels={}).promise_windows["w"]

    assert (parsed.handling, parsed.days - parsed.handling) == (handling, transit)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"promise_windows": {"w": {"handling_days": 1, "cutoff": "14:00"}}},
            "promise_windows.w: give business_days, or both handling_days and transit_days",
        ),
        (
            {"promise_windows": {"w": {"cutoff": "14:00"}}},
            "promise_windows.w: give business_days",
        ),
        (
            {
                "promise_windows": {
                    "w": {
                        "business_days": 4,
                        "handling_days": 1,
                        "transit_days": 2,
                        "cutoff": "14:00",
                    }
                }
            },
            "promise_windows.w: business_days (4) must equal handling_days + transit_days (1 + 2)",
        ),
        (
            {"promise_windows": {"w": {"business_days": 1, "handling_days": 2, "cutoff": "14:00"}}},
            "promise_windows.w: handling_days must be <= business_days (2 > 1)",
        ),
        (
            {"promise_windows": {"w": {"handling_days": -1, "transit_days": 2, "cutoff": "14:00"}}},
            "promise_windows.w.handling_days: must be >= 0",
        ),
        (
            {
                "promise_windows": {
                    "w": {"handling_days": "1", "transit_days": 2, "cutoff": "14:00"}
                }
            },
            "promise_windows.w.handling_days: must be a whole number",
        ),
        (
            {"service_levels": {"Freight": "freight"}},
            "service_levels: 'Freight' names no promise window 'freight' "
            "(known: bulky, express, same_day, standard)",
        ),
        (
            {"service_levels": {"Standard": "standard", "standard ": "express"}},
            "service_levels: 'Standard' and 'standard ' differ only in case or spaces",
        ),
        ({"service_levels": {" ": "standard"}}, "service_levels: a service level must not be"),
        ({"service_levels": {"Standard": 3}}, "service_levels.Standard: must be text"),
        ({"service_levels": ["standard"]}, "service_levels: must be a mapping"),
        ({"default_window": "freight"}, "default_window: names no promise window 'freight'"),
        ({"default_window": 1}, "default_window: must be text"),
    ],
)
def test_windows_and_service_levels_are_validated_with_their_path(
    changes: dict[str, Any], problem: str
) -> None:
    document = {**copy.deepcopy(DOCUMENT), **changes}
    with pytest.raises(InvalidPolicy) as caught:
        parse_policy(document)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_a_policy_with_service_levels_round_trips_through_its_stored_form() -> None:
    original = policy(default_window="standard")

    again = parse_policy(policy_document(original))

    assert again == original
    assert promise_for(again, "standard shipping", utc("2026-11-16T09:00")) == promise_for(
        original, "Standard Shipping", utc("2026-11-16T09:00")
    )


def test_a_policy_stored_before_service_levels_still_parses_without_promising_lines() -> None:
    old = copy.deepcopy(DOCUMENT)
    del old["service_levels"]
    old["promise_windows"] = {"standard": {"business_days": 3, "cutoff": "14:00"}}

    parsed = parse_policy(old)

    assert parsed.default_window is None
    assert promise_for(parsed, "Standard Shipping", utc("2026-11-16T09:00")) is None
    assert promise_for(parsed, "standard", utc("2026-11-16T09:00")) is not None
