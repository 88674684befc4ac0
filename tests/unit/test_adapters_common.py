"""Shared adapter rules: money without floats, zoned times, stable derived ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.ingest.adapters.common import (
    MAX_KEYS,
    derived_id,
    event,
    external_keys,
    parse_time,
    to_minor,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("19.99", "USD", 1999),
        (19.99, "USD", 1999),
        ("0.10", "EUR", 10),
        ("404.95", "usd", 40495),
        ("1500", "JPY", 1500),
        ("12.345", "KWD", 12345),
        (7, "GBP", 700),
        ("0.00", "USD", 0),
    ],
)
def test_amounts_convert_to_minor_units_by_currency_exponent(
    amount: object, currency: str, expected: int
) -> None:
    assert to_minor(amount, currency, where="x") == expected


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        ("example string", "USD", "not a decimal amount"),
        ("1.005", "USD", "more decimals than USD allows"),
        ("10.5", "JPY", "more decimals than JPY allows"),
        ("NaN", "USD", "not a finite amount"),
        (None, "USD", "not a decimal amount"),
    ],
)
def test_amounts_that_cannot_be_exact_are_refused(
    amount: object, currency: str, reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        to_minor(amount, currency, where="x")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-12-31T19:00:00-05:00", datetime(2022, 1, 1, 0, 0, tzinfo=UTC)),
        ("2024-08-02T19:26:52.000Z", datetime(2024, 8, 2, 19, 26, 52, tzinfo=UTC)),
        ("2019-01-01 00:00:00.000Z", datetime(2019, 1, 1, tzinfo=UTC)),
        (1648320033, datetime(2022, 3, 26, 18, 40, 33, tzinfo=UTC)),
    ],
)
def test_times_are_read_as_utc(value: object, expected: datetime) -> None:
    assert parse_time(value, where="t") == expected


@pytest.mark.parametrize("value", ["2018-08-01T17:19:47", "yesterday", "", None, True])
def test_times_without_zone_or_shape_are_refused(value: object) -> None:
    with pytest.raises(InvalidEvent):
        parse_time(value, where="t")


def test_derived_ids_are_stable_and_sensitive_to_every_part() -> None:
    same = derived_id("shippo", "9205", "delivered", "2016-12-08T15:19:00+00:00")

    assert same == derived_id("shippo", "9205", "delivered", "2016-12-08T15:19:00+00:00")
    assert same != derived_id("shippo", "9205", "in_transit", "2016-12-08T15:19:00+00:00")
    assert same != derived_id("shippo", "92", "05delivered", "2016-12-08T15:19:00+00:00")
    assert same.startswith("shippo-")


def test_an_event_whose_data_does_not_fit_the_model_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidEvent, match="order_ref"):
        event(
            source="shopify",
            event_id="1",
            type_=EventType.ORDER_CANCELLED,
            time=datetime(2024, 1, 1, tzinfo=UTC),
            subject=None,
            data={"reason": "x"},
        )


def test_external_keys_keep_the_order_given_and_drop_blanks_and_repeats() -> None:
    pairs = [
        ("shopify.order", "5849871237"),
        ("order.number", None),
        ("order.number", "  "),
        ("shopify.order", "5849871237"),
        ("order.number", "#1001"),
        ("order.name", "#1001"),
    ]

    assert external_keys(pairs) == [
        {"kind": "shopify.order", "value": "5849871237"},
        {"kind": "order.number", "value": "#1001"},
        {"kind": "order.name", "value": "#1001"},
    ]


def test_external_keys_stop_at_what_a_keys_list_holds_keeping_the_surest() -> None:
    pairs = [("order.number", str(1000 + n)) for n in range(80)]

    kept = external_keys(pairs)

    assert len(kept) == MAX_KEYS == 50
    assert kept[0] == {"kind": "order.number", "value": "1000"}
    assert kept[-1] == {"kind": "order.number", "value": "1049"}
