"""What a tenant used, and what it may use: meters, their units, monthly quotas. Pure.

Usage is counted per tenant, environment, UTC day, meter and dimension (what the meter is
broken down by), in whole units of the meter: money in micro-dollars, storage in bytes,
so an invoice adds integers and never rounds twice. Quotas are per tenant and meter per
calendar month (UTC): a soft limit warns, a hard limit refuses what the meter counts at
its door (ingest answers 429; model calls fall back to templates; agents' tool calls are
refused as tool errors) until the month resets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from orderops.domain.errors import InvalidEvent, OrderOpsError

DEFAULT_ENVIRONMENT = "live"
"""The environment of a counter that names none: every tenant's before environments."""


class Meter(StrEnum):
    EVENTS = "events"
    API_CALLS = "api_calls"
    CASES = "cases"
    WRITEBACKS = "writebacks"
    MESSAGES = "messages"
    MODEL_TOKENS = "model_tokens"
    MODEL_COST = "model_cost"
    EVIDENCE_BYTES = "evidence_bytes"
    AGENT_TOOL_CALLS = "agent_tool_calls"


UNITS: dict[Meter, str] = {
    Meter.EVENTS: "event",
    Meter.API_CALLS: "call",
    Meter.CASES: "case",
    Meter.WRITEBACKS: "effect",
    Meter.MESSAGES: "message",
    Meter.MODEL_TOKENS: "token",
    Meter.MODEL_COST: "usd_micro",
    Meter.EVIDENCE_BYTES: "byte",
    Meter.AGENT_TOOL_CALLS: "call",
}

DIMENSIONS: dict[Meter, str] = {
    Meter.EVENTS: "the channel it came in by (api, webhook:<provider>, nats:<stream>, import)",
    Meter.API_CALLS: "the route group (/v1/<group>/...)",
    Meter.CASES: "the exception type",
    Meter.WRITEBACKS: "the system written to",
    Meter.MESSAGES: "the channel (email, sms)",
    Meter.MODEL_TOKENS: "<model>:prompt or <model>:completion",
    Meter.MODEL_COST: "the model",
    Meter.EVIDENCE_BYTES: "the kind of evidence (upload, snapshot)",
    Meter.AGENT_TOOL_CALLS: "the MCP tool (resource:<kind> for a resource read)",
}
"""What each meter's ``dimension`` names; every one has few values, so rows stay few."""

MODEL_METERS = (Meter.MODEL_TOKENS, Meter.MODEL_COST)


def day_of(at: datetime) -> str:
    """The UTC day a moment is counted on, as ``YYYY-MM-DD`` (sorts as it reads)."""
    return at.astimezone(UTC).date().isoformat()


@dataclass(frozen=True)
class Month:
    """A calendar month (UTC): the period a quota is counted over."""

    year: int
    month: int

    @classmethod
    def of(cls, at: datetime | date) -> Month:
        day = at.astimezone(UTC).date() if isinstance(at, datetime) else at
        return cls(day.year, day.month)

    @property
    def first_day(self) -> str:
        return date(self.year, self.month, 1).isoformat()

    @property
    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def resets_at(self) -> datetime:
        """The first moment of the next month, when this month's quotas start over."""
        following = self.next
        return datetime(following.year, following.month, 1, tzinfo=UTC)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class Quota:
    """Monthly limits on one meter; ``None`` is no limit of that kind."""

    meter: Meter
    soft: int | None = None
    hard: int | None = None

    def __post_init__(self) -> None:
        for name, value in (("soft", self.soft), ("hard", self.hard)):
            if value is not None and value < 0:
                raise InvalidQuota(f"a {name} limit cannot be negative ({value})")
        if self.soft is not None and self.hard is not None and self.soft > self.hard:
            raise InvalidQuota(
                f"the soft limit ({self.soft}) must not exceed the hard limit ({self.hard}): "
                "the warning comes before the refusal"
            )


class QuotaLevel(StrEnum):
    OK = "ok"
    WARNING = "warning"
    """The soft limit is reached: still served, with a warning."""
    EXCEEDED = "exceeded"
    """The hard limit is reached: refused until the month resets."""


@dataclass(frozen=True)
class QuotaStatus:
    quota: Quota
    used: int
    month: Month

    @property
    def level(self) -> QuotaLevel:
        if self.quota.hard is not None and self.used >= self.quota.hard:
            return QuotaLevel.EXCEEDED
        if self.quota.soft is not None and self.used >= self.quota.soft:
            return QuotaLevel.WARNING
        return QuotaLevel.OK

    @property
    def unit(self) -> str:
        return UNITS[self.quota.meter]

    def describe(self) -> str:
        """One line a person reads: the meter, the use against each limit, the reset."""
        limits = [
            f"{name} limit {value:,}"
            for name, value in (("soft", self.quota.soft), ("hard", self.quota.hard))
            if value is not None
        ]
        return (
            f"{self.quota.meter}: {self.used:,} {self.unit}(s) used in {self.month.label} "
            f"({', '.join(limits) or 'no limit'}); resets {_stamp(self.month.resets_at)}"
        )

    def header_value(self) -> str:
        """This status as one item of the ``OrderOps-Quota-Warning`` header."""
        parts = [str(self.quota.meter), f"used={self.used}"]
        parts += [f"soft={self.quota.soft}"] if self.quota.soft is not None else []
        parts += [f"hard={self.quota.hard}"] if self.quota.hard is not None else []
        parts.append(f'resets="{_stamp(self.month.resets_at)}"')
        return "; ".join(parts)


def warning_header(statuses: list[QuotaStatus]) -> str | None:
    """The header for every meter at or past its soft limit; None when all are fine."""
    items = [s.header_value() for s in statuses if s.level is not QuotaLevel.OK]
    return ", ".join(items) or None


@dataclass(frozen=True)
class Period:
    """Days ``first`` to ``last``, both included: what a report or an invoice covers."""

    first: date
    last: date

    @classmethod
    def of(cls, first: date | None, last: date | None, *, today: date) -> Period:
        """The days asked for; by default the month so far (from the first of ``last``'s
        month, up to today)."""
        end = last or today
        start = first or date(end.year, end.month, 1)
        if start > end:
            raise InvalidPeriod(f"the period starts ({start}) after it ends ({end})")
        if end - start > MAX_PERIOD:
            raise InvalidPeriod(
                f"a period of at most {MAX_PERIOD.days + 1} days, please ({start} to {end})"
            )
        return cls(start, end)

    @property
    def bounds(self) -> tuple[str, str]:
        """The first day and the day after the last, as counter rows name days."""
        return self.first.isoformat(), (self.last + timedelta(days=1)).isoformat()


MAX_PERIOD = timedelta(days=366)


class InvalidPeriod(InvalidEvent):
    code = "invalid-period"


class InvalidQuota(InvalidEvent):
    code = "invalid-quota"


class QuotaExceeded(OrderOpsError):
    """A hard monthly limit is reached: refused, nothing stored, try again after the reset.

    Refusing (429) rather than dropping is what loses nothing: a provider retries a
    delivery it was refused, and a sender sees when to come back."""

    code = "quota-exceeded"

    def __init__(self, status: QuotaStatus, *, tenant_id: str) -> None:
        super().__init__(
            f"tenant {tenant_id} has used its monthly {status.quota.meter} quota "
            f"({status.used:,} of a hard limit of {status.quota.hard:,} {status.unit}s in "
            f"{status.month.label}); nothing was stored. The quota resets at "
            f"{_stamp(status.month.resets_at)}; send again then, or ask for a higher limit."
        )
        self.status = status
        self.tenant_id = tenant_id

    def retry_after_seconds(self, now: datetime) -> int:
        return max(1, int((self.status.month.resets_at - now).total_seconds()))


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
