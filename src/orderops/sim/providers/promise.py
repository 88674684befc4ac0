"""The store's delivery promise, computed from its policy document by its own rule.

Written here from the policy's plain words, not taken from the desk, because the
reference reader must judge the desk against the rule and not against the desk's own
code: day zero is the order's local day when it is a business day and the order came
before the cut-off, else the next business day; the parcel must be handed to the
carrier by the end of the ``handling_days``-th business day after day zero, and
delivered by the end of the ``handling_days + transit_days``-th. Ends of days are
23:59:59 in the policy's time zone; Saturdays, Sundays and the listed holidays are not
business days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

END_OF_DAY = time(23, 59, 59)


class PolicyUnreadable(ValueError):
    """The policy document lacks what the promise rule needs; the message names the path."""


@dataclass(frozen=True)
class Window:
    name: str
    cutoff: time
    handling_days: int
    transit_days: int


@dataclass(frozen=True)
class Deadlines:
    window: str
    handling_due: datetime
    promised_by: datetime


@dataclass(frozen=True)
class StorePolicy:
    zone: ZoneInfo
    windows: Mapping[str, Window]
    holidays: frozenset[date]
    service_levels: Mapping[str, str]
    """Shipping line code or title, lower-cased, to window name."""
    default_window: str | None

    def window_for(self, *names: str | None) -> Window | None:
        """The window a shipping line falls in: by code or title, else the default."""
        for name in names:
            if not name:
                continue
            key = name.strip().lower()
            chosen = self.service_levels.get(key) or (key if key in self.windows else None)
            if chosen is not None:
                return self.windows[chosen]
        return self.windows.get(self.default_window) if self.default_window else None

    def business(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def next_business(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.business(day):
            day += timedelta(days=1)
        return day

    def deadlines(self, window: Window, placed_at: datetime) -> Deadlines:
        local = placed_at.astimezone(self.zone)
        day = local.date()
        if local.time() >= window.cutoff or not self.business(day):
            day = self.next_business(day)
        for _ in range(window.handling_days):
            day = self.next_business(day)
        handling = self._end_of(day)
        for _ in range(window.transit_days):
            day = self.next_business(day)
        return Deadlines(window.name, handling, self._end_of(day))

    def _end_of(self, day: date) -> datetime:
        return datetime.combine(day, END_OF_DAY, tzinfo=self.zone).astimezone(UTC)


def read_policy(document: Mapping[str, Any]) -> StorePolicy:
    """The promise-relevant part of a policy document (as written by ``policy``)."""
    try:
        zone = ZoneInfo(str(document["timezone"]))
        windows = {
            str(name): _window(str(name), spec)
            for name, spec in dict(document["promise_windows"]).items()
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyUnreadable(f"policy: {exc}") from exc
    levels = {
        str(key).strip().lower(): str(value)
        for key, value in dict(document.get("service_levels") or {}).items()
    }
    unknown = sorted(v for v in levels.values() if v not in windows)
    if unknown:
        raise PolicyUnreadable(f"service_levels: names unknown windows {unknown}")
    default = document.get("default_window")
    if default is not None and default not in windows:
        raise PolicyUnreadable(f"default_window: {default!r} is not a window")
    holidays = frozenset(
        h if isinstance(h, date) else date.fromisoformat(str(h))
        for h in document.get("holidays") or []
    )
    return StorePolicy(zone, windows, holidays, levels, default)


def _window(name: str, spec: Mapping[str, Any]) -> Window:
    cutoff = spec["cutoff"]
    if not isinstance(cutoff, time):
        cutoff = time.fromisoformat(str(cutoff))
    total = int(spec["business_days"])
    handling = spec.get("handling_days")
    transit = spec.get("transit_days")
    if handling is None:
        handling = 1 if total >= 1 else 0
    if transit is None:
        transit = total - int(handling)
    return Window(name, cutoff, int(handling), int(transit))
