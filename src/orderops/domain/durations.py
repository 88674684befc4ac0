"""Durations as operators type them: ``90d``, ``24h``, ``1h30m``, ``0``.

Key expiry and rotation overlaps are chosen on a command line or in a JSON body, where
``--expires-in 90d`` reads better than seconds and is harder to get wrong by a factor.
"""

from __future__ import annotations

import re
from datetime import timedelta

from orderops.domain.errors import InvalidEvent

UNITS: dict[str, timedelta] = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}
_WHOLE = re.compile(r"^(?:\d{1,6}[wdhms])+$")
_PART = re.compile(r"(\d{1,6})([wdhms])")


class InvalidDuration(InvalidEvent):
    code = "invalid-duration"


def parse_duration(text: str) -> timedelta:
    """``"90d"`` -> 90 days; ``"0"`` is no time at all (an overlap that ends at once)."""
    cleaned = text.strip().lower().replace(" ", "")
    if cleaned == "0":
        return timedelta(0)
    if not _WHOLE.match(cleaned):
        raise InvalidDuration(
            f"duration {text!r} is not a number with a unit (w, d, h, m, s), e.g. 90d or 24h"
        )
    return sum((int(n) * UNITS[unit] for n, unit in _PART.findall(cleaned)), timedelta(0))


def describe(duration: timedelta) -> str:
    """The shortest spelling ``parse_duration`` reads back: ``timedelta(hours=36)`` -> 1d12h."""
    seconds = int(duration.total_seconds())
    if seconds <= 0:
        return "0"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = int(UNITS[unit].total_seconds())
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
