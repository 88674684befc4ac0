"""Customer impact of a case: a score a reviewer can check by hand. Pure.

Each factor turns one fact (value blocked, days late, open tickets, ...) into whole
points, capped by ``FACTORS``; the score is their sum, so every explanation adds up
exactly and "why is this P1?" is answered by reading the contributions. The caps sum
to 100. Priorities come from the score through ``PRIORITY_THRESHOLDS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from orderops.domain.routing import Priority


class Factor(StrEnum):
    BLOCKED_VALUE = "blocked_value"
    MARGIN_AT_RISK = "margin_at_risk"
    CUSTOMER_TIER = "customer_tier"
    LIFETIME_VALUE = "lifetime_value"
    DAYS_LATE = "days_late"
    SHARE_BLOCKED = "share_blocked"
    PRIOR_EXCEPTIONS = "prior_exceptions"
    OPEN_TICKETS = "open_tickets"


FACTORS: dict[Factor, int] = {
    Factor.BLOCKED_VALUE: 25,
    Factor.MARGIN_AT_RISK: 10,
    Factor.CUSTOMER_TIER: 10,
    Factor.LIFETIME_VALUE: 10,
    Factor.DAYS_LATE: 20,
    Factor.SHARE_BLOCKED: 10,
    Factor.PRIOR_EXCEPTIONS: 8,
    Factor.OPEN_TICKETS: 7,
}
"""The most points each factor can give."""

FULL_BLOCKED_MINOR = 100_000
"""Blocked value (minor units) that earns the whole blocked-value allowance."""
FULL_MARGIN_MINOR = 30_000
FULL_LIFETIME_MINOR = 500_000
FULL_DAYS_LATE = 5.0
POINTS_PER_PRIOR_EXCEPTION = 2
POINTS_PER_OPEN_TICKET = 4
DEFAULT_MARGIN_RATE = 0.3
"""Share of order value that is margin when the tenant has not said otherwise."""

TIER_POINTS: dict[str, int] = {"vip": 10, "gold": 7, "silver": 4}
"""Other tiers (standard, unknown) earn nothing."""

PRIORITY_THRESHOLDS: tuple[tuple[int, Priority], ...] = (
    (60, Priority.P1),
    (40, Priority.P2),
    (20, Priority.P3),
    (0, Priority.P4),
)
"""The first row whose minimum the score reaches gives the priority."""


@dataclass(frozen=True, kw_only=True)
class ImpactInputs:
    """What the score looks at, read from the order, its customer and its history."""

    order_value_minor: int
    blocked_value_minor: int
    """The part of the order the exception holds up (unshipped, unpaid, late)."""
    margin_rate: float = DEFAULT_MARGIN_RATE
    customer_tier: str | None = None
    lifetime_value_minor: int = 0
    """What the customer has ordered in total, this order included."""
    days_late: float = 0.0
    """Days past the promise; zero or negative when not late yet."""
    prior_exceptions_90d: int = 0
    open_tickets: int = 0


@dataclass(frozen=True)
class Contribution:
    factor: Factor
    points: int
    max_points: int
    reason: str


@dataclass(frozen=True)
class ImpactScore:
    score: int
    priority: Priority
    contributions: tuple[Contribution, ...]

    def to_dict(self) -> dict[str, Any]:
        """The stored explanation (``cases.impact``)."""
        return {
            "score": self.score,
            "priority": str(self.priority),
            "contributions": [
                {
                    "factor": str(c.factor),
                    "points": c.points,
                    "max_points": c.max_points,
                    "reason": c.reason,
                }
                for c in self.contributions
            ],
        }


def priority_for(score: int) -> Priority:
    for minimum, priority in PRIORITY_THRESHOLDS:
        if score >= minimum:
            return priority
    return PRIORITY_THRESHOLDS[-1][1]


def score_impact(inputs: ImpactInputs) -> ImpactScore:
    """Score the inputs; the contributions, in ``FACTORS`` order, sum to the score."""
    value = max(inputs.order_value_minor, 0)
    blocked = min(max(inputs.blocked_value_minor, 0), value) if value else 0
    margin = round(blocked * min(max(inputs.margin_rate, 0.0), 1.0))
    share = blocked / value if value else 0.0
    tier = (inputs.customer_tier or "standard").lower()
    late = max(inputs.days_late, 0.0)
    prior = max(inputs.prior_exceptions_90d, 0)
    tickets = max(inputs.open_tickets, 0)
    contributions = (
        _scaled(Factor.BLOCKED_VALUE, blocked / FULL_BLOCKED_MINOR, f"{_money(blocked)} blocked"),
        _scaled(Factor.MARGIN_AT_RISK, margin / FULL_MARGIN_MINOR, f"{_money(margin)} margin"),
        _capped(Factor.CUSTOMER_TIER, TIER_POINTS.get(tier, 0), f"{tier} customer"),
        _scaled(
            Factor.LIFETIME_VALUE,
            max(inputs.lifetime_value_minor, 0) / FULL_LIFETIME_MINOR,
            f"{_money(max(inputs.lifetime_value_minor, 0))} lifetime value",
        ),
        _scaled(Factor.DAYS_LATE, late / FULL_DAYS_LATE, f"{late:.1f} days past the promise"),
        _scaled(Factor.SHARE_BLOCKED, share, f"{share:.0%} of the order blocked"),
        _capped(
            Factor.PRIOR_EXCEPTIONS,
            prior * POINTS_PER_PRIOR_EXCEPTION,
            f"{prior} earlier exception(s) in 90 days",
        ),
        _capped(
            Factor.OPEN_TICKETS,
            tickets * POINTS_PER_OPEN_TICKET,
            f"{tickets} open ticket(s) on the order",
        ),
    )
    score = sum(c.points for c in contributions)
    return ImpactScore(score=score, priority=priority_for(score), contributions=contributions)


def impact_from_dict(data: Mapping[str, Any]) -> ImpactScore:
    """Read a stored explanation back."""
    contributions = tuple(
        Contribution(
            factor=Factor(c["factor"]),
            points=int(c["points"]),
            max_points=int(c["max_points"]),
            reason=str(c["reason"]),
        )
        for c in data["contributions"]
    )
    return ImpactScore(
        score=int(data["score"]),
        priority=Priority(data["priority"]),
        contributions=contributions,
    )


def _scaled(factor: Factor, fraction: float, reason: str) -> Contribution:
    """A share of the factor's allowance, rounded half up to whole points."""
    cap = FACTORS[factor]
    points = int(min(max(fraction, 0.0), 1.0) * cap + 0.5)
    return Contribution(factor, min(points, cap), cap, reason)


def _capped(factor: Factor, points: int, reason: str) -> Contribution:
    cap = FACTORS[factor]
    return Contribution(factor, min(max(points, 0), cap), cap, reason)


def _money(minor: int) -> str:
    return f"{minor / 100:,.2f}"
