"""Finding the order a record belongs to when the record does not say: pure rules.

The provider's own order ref always wins (the projector already uses it). Without one:

* a ticket that mentions an order number (``#1234``, ``order 1234``, ``order no. 1234``)
  or a tracking number of one of our shipments belongs to that order;
* a payment without an order ref belongs to the one order of the same currency and
  exact amount placed in the ``PAYMENT_WINDOW`` before it (up to ``PAYMENT_SKEW`` after,
  for clocks that disagree); two or more such orders are ambiguous and link nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

PAYMENT_WINDOW = timedelta(hours=24)
PAYMENT_SKEW = timedelta(minutes=10)

_ORDER_NUMBER = re.compile(
    r"(?:#\s?(\d{3,10})\b)|(?:\border\s*(?:number|num\.?|no\.?)?\s*[:#]?\s*(\d{3,10})\b)",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[A-Za-z0-9]{8,40}")


def order_number_digits(number: str | None) -> str | None:
    """``#1001`` -> ``1001``: order numbers compared by their digits alone."""
    if not number:
        return None
    digits = re.sub(r"\D", "", number)
    return digits or None


def order_numbers_in(text: str | None) -> list[str]:
    """Order numbers a customer wrote, as digits, first mention first, no repeats."""
    if not text:
        return []
    found: list[str] = []
    for match in _ORDER_NUMBER.finditer(text):
        digits = match.group(1) or match.group(2)
        if digits not in found:
            found.append(digits)
    return found


def tracking_numbers_in(text: str | None, known: Collection[str]) -> list[str]:
    """Tokens of ``text`` that are tracking numbers we know (case-insensitive)."""
    if not text:
        return []
    upper_known = {number.upper(): number for number in known}
    found: list[str] = []
    for token in _TOKEN.findall(text):
        number = upper_known.get(token.upper())
        if number is not None and number not in found:
            found.append(number)
    return found


@dataclass(frozen=True)
class OrderCandidate:
    order_id: str
    order_ref: str
    currency: str
    total_minor: int
    placed_at: datetime


@dataclass(frozen=True)
class PaymentMatch:
    order: OrderCandidate | None
    candidates: int
    rule: str


def match_payment(
    *,
    amount_minor: int,
    currency: str,
    at: datetime,
    orders: Iterable[OrderCandidate],
    window: timedelta = PAYMENT_WINDOW,
    skew: timedelta = PAYMENT_SKEW,
) -> PaymentMatch:
    fitting: Sequence[OrderCandidate] = [
        order
        for order in orders
        if order.currency == currency
        and order.total_minor == amount_minor
        and at - window <= order.placed_at <= at + skew
    ]
    rule = (
        f"same currency and amount {amount_minor} {currency}, order placed between "
        f"{window} before and {skew} after the payment"
    )
    if len(fitting) == 1:
        return PaymentMatch(fitting[0], 1, rule)
    return PaymentMatch(None, len(fitting), rule)
