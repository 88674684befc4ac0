"""How amounts and dates are written in each language; the fact checker reads them back.

One writer and one reader per format, kept side by side, so a draft the templates wrote
is always one the checker can verify.
"""

from __future__ import annotations

from datetime import date

LANGUAGES = ("en", "es", "pt", "de")
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def money(minor: int, currency: str, language: str) -> str:
    """``$12.34`` in English for dollars; ``12,34 USD`` in es, pt and de."""
    whole, cents = divmod(abs(minor), 100)
    sign = "-" if minor < 0 else ""
    if language == "en":
        text = f"{whole:,}.{cents:02d}"
        symbol = SYMBOLS.get(currency)
        return f"{sign}{symbol}{text}" if symbol == "$" else f"{sign}{text} {currency}"
    grouped = f"{whole:,}".replace(",", ".")
    return f"{sign}{grouped},{cents:02d} {currency}"


def day(value: date, language: str) -> str:
    """``June 5, 2024`` in English; ISO ``2024-06-05`` elsewhere (unambiguous everywhere)."""
    if language == "en":
        return f"{MONTHS_EN[value.month - 1]} {value.day}, {value.year}"
    return value.isoformat()
