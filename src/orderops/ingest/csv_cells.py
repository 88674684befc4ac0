"""Reading CSV cells strictly, whatever the exporter called the columns.

Headers are matched loosely (case, spaces and punctuation are ignored, aliases are
accepted) because every shop system names them differently; values are read strictly
(a required value, a whole number, money in minor units, a time with a zone) and each
failure names the column and the value, so the row can be fixed from the message.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation

from orderops.domain.errors import InvalidEvent
from orderops.ingest.adapters.common import to_minor


class FeedError(InvalidEvent):
    """The file as a whole cannot be read as this feed (missing or ambiguous headers)."""

    code = "invalid-feed"


class RowProblem(Exception):
    """One row cannot be mapped; the message names the column and the value."""


def norm(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def aliases(*names: str) -> frozenset[str]:
    return frozenset(norm(n) for n in names)


COUNTRY_NAMES: dict[str, str | None] = {
    "australia": "AU", "austria": "AT", "belgium": "BE", "canada": "CA", "cyprus": "CY",
    "denmark": "DK", "eire": "IE", "ireland": "IE", "finland": "FI", "france": "FR",
    "germany": "DE", "hong kong": "HK", "iceland": "IS", "italy": "IT", "japan": "JP",
    "netherlands": "NL", "norway": "NO", "poland": "PL", "portugal": "PT",
    "singapore": "SG", "spain": "ES", "sweden": "SE", "switzerland": "CH", "usa": "US",
    "united states": "US", "united arab emirates": "AE", "united kingdom": "GB",
    "uk": "GB", "greece": "GR", "israel": "IL", "lithuania": "LT", "malta": "MT",
    "brazil": "BR", "czech republic": "CZ", "bahrain": "BH", "saudi arabia": "SA",
    "lebanon": "LB", "south africa": "ZA", "rsa": "ZA",
    # Names in UCI Online Retail that stand for no single country.
    "channel islands": None, "european community": None, "unspecified": None,
}  # fmt: skip
"""English names as found in exports (UCI Online Retail among them) -> ISO 3166 alpha-2."""

_SLASHED_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")
"""Slashed dates are read month first, as in UCI Online Retail and US spreadsheet exports."""

_MISSING = frozenset({"", "na", "n/a", "null", "none"})


Row = tuple[int, dict[str, str]]


def read_csv(text: str) -> tuple[list[str], list[Row]]:
    header, rows = stream_csv(io.StringIO(text))
    return header, list(rows)


def stream_csv(lines: Iterable[str]) -> tuple[list[str], Iterator[Row]]:
    """The header now, the data rows as they are read: a file is never held whole.

    The delimiter is whichever of ``, ; tab |`` the header line holds most of.
    """
    iterator = iter(lines)
    first = next(iterator, "").removeprefix("\ufeff")
    delimiter = max(",;\t|", key=first.count)
    reader = csv.reader(itertools.chain([first], iterator), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise FeedError("the file is empty: a header row is required")
    return header, _data_rows(reader, header)


def _data_rows(reader: Iterator[list[str]], header: list[str]) -> Iterator[Row]:
    index = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FeedError(f"row {index + 2}: not readable as CSV: {exc}") from exc
        index += 1
        if any(v.strip() for v in values):
            yield index + 1, dict(zip(header, values, strict=False))


def resolve_columns(
    header: Iterable[str], columns: Mapping[str, frozenset[str]], required: Iterable[str]
) -> dict[str, str]:
    """Canonical field -> the file's header for it; refuse missing or doubled fields."""
    found: dict[str, str] = {}
    for name in header:
        key = norm(name)
        for canonical, aliases in columns.items():
            if key == norm(canonical) or key in aliases:
                if canonical in found:
                    raise FeedError(
                        f"columns {found[canonical]!r} and {name!r} both mean {canonical}"
                    )
                found[canonical] = name
    missing = [c for c in required if c not in found]
    if missing:
        raise FeedError(
            f"missing column(s) {', '.join(missing)}; the header has {', '.join(header)}"
        )
    return found


class Cells:
    """One row's values by canonical field, with strict readers that name the column."""

    def __init__(self, raw: dict[str, str], columns: dict[str, str]) -> None:
        self._values = {c: (raw.get(h) or "").strip() for c, h in columns.items()}

    def opt(self, name: str) -> str | None:
        value = self._values.get(name, "")
        return None if value.lower() in _MISSING else value

    def req(self, name: str) -> str:
        value = self.opt(name)
        if value is None:
            raise RowProblem(f"{name}: a value is required")
        return value

    def integer(self, name: str, *, minimum: int | None = None) -> int:
        text = self.req(name)
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation as exc:
            raise RowProblem(f"{name}: {text!r} is not a whole number") from exc
        if not number.is_finite() or number != number.to_integral_value():
            raise RowProblem(f"{name}: {text!r} is not a whole number")
        if minimum is not None and number < minimum:
            raise RowProblem(f"{name}: must be >= {minimum} (got {text})")
        return int(number)

    def money(self, name: str, currency: str) -> int:
        text = self.req(name).lstrip("$£€").strip()
        try:
            minor = to_minor(text, currency, where=name)
        except InvalidEvent as exc:
            raise RowProblem(exc.message) from exc
        if minor < 0:
            raise RowProblem(f"{name}: must be >= 0 (got {text})")
        return minor

    def time(self, name: str, zone: tzinfo | None) -> datetime:
        return parse_time(self.req(name), zone, where=name)

    def opt_time(self, name: str, zone: tzinfo | None) -> datetime | None:
        text = self.opt(name)
        return None if text is None else parse_time(text, zone, where=name)

    def country(self, name: str = "country") -> str | None:
        text = self.opt(name)
        if text is None:
            return None
        if re.fullmatch(r"[A-Za-z]{2}", text):
            return text.upper()
        key = " ".join(text.lower().split())
        if key not in COUNTRY_NAMES:
            raise RowProblem(f"{name}: unknown country {text!r}; use an ISO 3166 alpha-2 code")
        return COUNTRY_NAMES[key]


def parse_time(text: str, zone: tzinfo | None, *, where: str) -> datetime:
    """ISO 8601 or month-first ``M/D/YYYY H:MM``; a zoneless time needs ``zone``."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = _slashed(text, where=where)
    if parsed.tzinfo is None:
        if zone is None:
            raise RowProblem(f"{where}: {text!r} has no timezone; add an offset or pass --timezone")
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _slashed(text: str, *, where: str) -> datetime:
    for fmt in _SLASHED_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise RowProblem(f"{where}: {text!r} is not a time (ISO 8601 or M/D/YYYY H:MM)")
