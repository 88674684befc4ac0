"""What a detector answers, and the shape every detector has.

A verdict separates *detected* (the exception happened: open a case) from *cleared*
(the blocker is gone: resolve the case), because a parcel delivered late was late
and still needs the case, yet nothing blocks the order any more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from orderops.domain.cases import ExceptionType
from orderops.domain.facts import OrderSnapshot

Thresholds = Mapping[str, float]


@dataclass(frozen=True, kw_only=True)
class Verdict:
    exception_type: ExceptionType
    detected: bool
    cleared: bool
    summary: str = ""
    clear_reason: str = ""
    evidence_key: str = ""
    """Identifies the signal; the same key seen again is not a new occurrence."""
    facts: dict[str, Any] = field(default_factory=dict)
    detected_at: datetime | None = None
    time_based: bool = False
    """Detected because a deadline passed: only a sweep, which sees settled state, opens it."""
    recheck_at: datetime | None = None
    """When the answer may change with no new event (a deadline still ahead)."""


class Detector(Protocol):
    exception_type: ExceptionType
    opens_on_events: bool
    """False for time-based rules: only a sweep (which sees settled state) may open them."""

    def judge(
        self, order: OrderSnapshot, *, now: datetime, thresholds: Thresholds | None = None
    ) -> Verdict: ...


def quiet(exception_type: ExceptionType, *, recheck_at: datetime | None = None) -> Verdict:
    """Nothing detected, nothing to clear."""
    return Verdict(
        exception_type=exception_type, detected=False, cleared=False, recheck_at=recheck_at
    )


def clear(exception_type: ExceptionType, reason: str) -> Verdict:
    return Verdict(exception_type=exception_type, detected=False, cleared=True, clear_reason=reason)


def hours(seconds: float) -> str:
    """A duration as people say it: "40 min", "20h", "3.5 days"."""
    value = seconds / 3600
    if value < 1:
        return f"{max(1, round(seconds / 60))} min"
    return f"{value:.0f}h" if value < 48 else f"{value / 24:.1f} days"
