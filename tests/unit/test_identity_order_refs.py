"""Finding an order from what a ticket says or what a payment looks like."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.resolve.identity.order_refs import (
    OrderCandidate,
    match_payment,
    order_number_digits,
    order_numbers_in,
    tracking_numbers_in,
)

T = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("Where is my order #1234?", ["1234"]),
        ("Where is my order # 1234?", ["1234"]),
        ("order 1234 never came", ["1234"]),
        ("Order no. 1234 and order number 5678", ["1234", "5678"]),
        ("ORDER: 1234, also #1234 again", ["1234"]),
        ("Question about order #1001", ["1001"]),
        ("I ordered 3 items on June 4", []),
        ("call me at 555 0123", []),
        ("", []),
        (None, []),
    ],
)
def test_order_numbers_mentioned_in_ticket_text(text: str | None, numbers: list[str]) -> None:
    assert order_numbers_in(text) == numbers


@pytest.mark.parametrize(
    ("number", "digits"), [("#1001", "1001"), ("1001", "1001"), ("#", None), (None, None)]
)
def test_order_numbers_compare_by_digits(number: str | None, digits: str | None) -> None:
    assert order_number_digits(number) == digits


def test_tracking_numbers_are_found_only_when_they_are_ours() -> None:
    known = {"1Z999AA10123456784", "9400100000000000000000"}
    text = "Tracking 1z999aa10123456784 says delivered; my neighbour's is 1Z000BB99999999999."
    assert tracking_numbers_in(text, known) == ["1Z999AA10123456784"]


def _order(
    order_id: str, *, total: int = 5000, placed: datetime = T, currency: str = "USD"
) -> OrderCandidate:
    return OrderCandidate(order_id, f"ref-{order_id}", currency, total, placed)


@pytest.mark.parametrize(
    ("orders", "linked"),
    [
        ([_order("a", placed=T - timedelta(minutes=3))], "a"),
        ([_order("a", placed=T - timedelta(hours=23))], "a"),
        ([_order("a", placed=T + timedelta(minutes=5))], "a"),  # clock skew
        ([_order("a", placed=T - timedelta(hours=25))], None),  # too old
        ([_order("a", placed=T + timedelta(hours=1))], None),  # placed after the payment
        ([_order("a", total=5001)], None),  # amount must be exact
        ([_order("a", currency="EUR")], None),
        ([_order("a"), _order("b", placed=T - timedelta(hours=2))], None),  # ambiguous
        ([_order("a"), _order("b", total=700)], "a"),
    ],
)
def test_payments_without_order_ref_link_by_amount_and_time(
    orders: list[OrderCandidate], linked: str | None
) -> None:
    match = match_payment(amount_minor=5000, currency="USD", at=T, orders=orders)
    assert (match.order.order_id if match.order else None) == linked


def test_an_ambiguous_payment_reports_how_many_orders_fit() -> None:
    match = match_payment(
        amount_minor=5000, currency="USD", at=T, orders=[_order("a"), _order("b")]
    )
    assert (match.order, match.candidates) == (None, 2)
    assert "5000 USD" in match.rule
