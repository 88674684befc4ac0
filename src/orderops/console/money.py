"""Money as people read it: the currency's own symbol, grouping and decimals (babel).

Amounts are stored in minor units with the ISO 4217 exponent ingest used to read them
(``ingest/adapters/common.currency_exponent``), so the same exponent turns them back:
12345 JPY is ¥12,345, 12345 USD is $123.45. Totals are kept per currency and never
summed across currencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from babel.numbers import format_currency

from orderops.ingest.adapters.common import currency_exponent

LOCALE = "en_US"


def money(minor: int, currency: str, *, locale: str = LOCALE) -> str:
    code = currency.upper()
    amount = Decimal(minor).scaleb(-currency_exponent(code))
    return format_currency(amount, code, locale=locale)


def amounts(by_currency: Mapping[str, int], *, locale: str = LOCALE) -> str:
    """Several currencies side by side, in code order: ``€2.00 · $1.00``."""
    return " · ".join(
        money(minor, code, locale=locale) for code, minor in sorted(by_currency.items())
    )
