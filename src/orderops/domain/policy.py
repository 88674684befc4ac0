"""A tenant's fulfillment policy: promises, substitutions, refund limits, detectors.

The policy is written by operations people in YAML, so validation is strict (unknown
keys, wrong types and impossible combinations are refused, never coerced) and every
error names its path, e.g. ``refund_limits.auto_approve_under_minor: must be >= 0``,
because the author fixes the file from that line alone.

Everything here is pure: loading the YAML and storing versions live in
``orderops.ingest.policy_file``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from orderops.domain.cases import ExceptionType
from orderops.domain.choices import ChoicePolicy
from orderops.domain.errors import InvalidEvent


class InvalidPolicy(InvalidEvent):
    """The policy document is not valid; the message lists each problem by path."""

    code = "invalid-policy"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    """Unknown keys are refused; numbers and flags use strict types so "5" is not 5."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PromiseWindow(_Strict):
    """A delivery promise in business days: handling (until the parcel is handed to the
    carrier), then transit.

    Orders placed before the cut-off (local time) count that day as day zero. Either
    ``business_days`` alone (handling is then one day, or none for a same-day window) or
    ``handling_days`` and ``transit_days`` (their sum is ``business_days`` if that is given
    too): the handling part is what makes "paid and not shipped" a deadline of its own.
    """

    business_days: StrictInt | None = Field(default=None, ge=0, le=60)
    handling_days: StrictInt | None = Field(default=None, ge=0, le=60)
    transit_days: StrictInt | None = Field(default=None, ge=0, le=60)
    cutoff: time

    @field_validator("cutoff", mode="before")
    @classmethod
    def _parse_cutoff(cls, value: Any) -> Any:
        if isinstance(value, int):
            # YAML 1.1 reads an unquoted 14:00 as the base-60 number 840.
            raise ValueError('must be a quoted time of day like "14:00"')
        if isinstance(value, str):
            try:
                return time.fromisoformat(value)
            except ValueError as exc:
                raise ValueError('must be a time of day like "14:00"') from exc
        return value

    @model_validator(mode="after")
    def _days_add_up(self) -> PromiseWindow:
        total, handling, transit = self.business_days, self.handling_days, self.transit_days
        if total is None:
            if handling is None or transit is None:
                raise ValueError("give business_days, or both handling_days and transit_days")
            if handling + transit > 60:
                raise ValueError(
                    f"handling_days + transit_days must be <= 60 ({handling + transit})"
                )
            return self
        if handling is not None and transit is not None and handling + transit != total:
            raise ValueError(
                f"business_days ({total}) must equal handling_days + transit_days "
                f"({handling} + {transit})"
            )
        for name, part in (("handling_days", handling), ("transit_days", transit)):
            if part is not None and part > total:
                raise ValueError(f"{name} must be <= business_days ({part} > {total})")
        return self

    @property
    def days(self) -> int:
        """Business days from day zero to the promised delivery."""
        if self.business_days is not None:
            return self.business_days
        return (self.handling_days or 0) + (self.transit_days or 0)  # both, by validation

    @property
    def handling(self) -> int:
        """Business days from day zero until the parcel should be with the carrier."""
        if self.handling_days is not None:
            return self.handling_days
        if self.transit_days is not None:
            return self.days - self.transit_days
        return 1 if self.days >= 1 else 0


class SubstitutionRules(_Strict):
    allowed_categories: list[StrictStr] = Field(default_factory=list, max_length=500)
    max_price_increase_pct: Decimal = Field(ge=0, le=100)

    @field_validator("max_price_increase_pct", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise ValueError("must be a number")
        return Decimal(str(value))


class RefundLimits(_Strict):
    """Refunds under the first limit are approved automatically; over the second, by finance."""

    currency: StrictStr = Field(pattern=r"^[A-Z]{3}$")
    auto_approve_under_minor: StrictInt = Field(ge=0)
    finance_approval_over_minor: StrictInt = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> RefundLimits:
        if self.finance_approval_over_minor < self.auto_approve_under_minor:
            raise ValueError(
                "finance_approval_over_minor must be >= auto_approve_under_minor "
                f"({self.finance_approval_over_minor} < {self.auto_approve_under_minor})"
            )
        return self


class DetectorSettings(_Strict):
    enabled: StrictBool = True
    thresholds: dict[str, float] = Field(default_factory=dict)

    @field_validator("thresholds", mode="before")
    @classmethod
    def _non_negative(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name, number in value.items():
                if isinstance(number, bool) or not isinstance(number, int | float):
                    raise ValueError(f"{name} must be a number")
                if number < 0:
                    raise ValueError(f"{name} must be >= 0")
            return {k: float(v) for k, v in value.items()}
        return value


class FulfillmentPolicy(_Strict):
    timezone: StrictStr
    promise_windows: dict[str, PromiseWindow] = Field(min_length=1)
    holidays: list[date] = Field(default_factory=list)
    substitutions: SubstitutionRules
    refund_limits: RefundLimits
    detectors: dict[ExceptionType, DetectorSettings] = Field(default_factory=dict)
    service_levels: dict[StrictStr, StrictStr] = Field(default_factory=dict, max_length=500)
    """A shipping line's code or title (any case) -> the promise window it buys."""
    default_window: StrictStr | None = None
    """The window of orders whose shipping line names none; without it they get no promise."""
    customer_choices: ChoicePolicy | None = None
    """What the customer may choose on a delay or stock-out (``domain/choices.py``); absent:
    ``DEFAULT_CHOICE_POLICY``."""

    @field_validator("service_levels")
    @classmethod
    def _levels_name_windows(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        windows = info.data.get("promise_windows")
        seen: dict[str, str] = {}
        for level, window in value.items():
            key = level_key(level)
            if not key:
                raise ValueError("a service level must not be blank")
            if key in seen:
                raise ValueError(f"{seen[key]!r} and {level!r} differ only in case or spaces")
            seen[key] = level
            if windows is not None and window not in windows:
                known = ", ".join(sorted(windows))
                raise ValueError(f"{level!r} names no promise window {window!r} (known: {known})")
        return value

    @field_validator("default_window")
    @classmethod
    def _known_default(cls, value: str | None, info: ValidationInfo) -> str | None:
        windows = info.data.get("promise_windows")
        if value is not None and windows is not None and value not in windows:
            known = ", ".join(sorted(windows))
            raise ValueError(f"names no promise window {value!r} (known: {known})")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("holidays", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [date.fromisoformat(v) if isinstance(v, str) else v for v in value]
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_MESSAGES = {
    "greater_than_equal": "must be >= {ge}",
    "less_than_equal": "must be <= {le}",
    "greater_than": "must be > {gt}",
    "less_than": "must be < {lt}",
    "missing": "is required",
    "extra_forbidden": "is not a known setting",
    "too_short": "must have at least {min_length} item(s)",
    "string_pattern_mismatch": "must match {pattern}",
    "enum": "must be one of {expected}",
    "int_type": "must be a whole number",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
}


def parse_policy(document: Any) -> FulfillmentPolicy:
    """Validate a decoded document; raise ``InvalidPolicy`` naming every failing path."""
    if not isinstance(document, dict):
        raise InvalidPolicy([f"(root): must be a mapping, got {type(document).__name__}"])
    try:
        return FulfillmentPolicy.model_validate(document)
    except ValidationError as exc:
        raise InvalidPolicy([_describe(err) for err in exc.errors()]) from exc


def _describe(err: Any) -> str:
    path = ".".join(str(p) for p in err["loc"] if p != "[key]") or "(root)"
    template = _MESSAGES.get(err["type"])
    if template is not None:
        message = template.format(**(err.get("ctx") or {}))
    else:
        message = str(err["msg"]).removeprefix("Value error, ")
    return f"{path}: {message}"


def policy_document(policy: FulfillmentPolicy) -> dict[str, Any]:
    """The JSON form stored per version; parsing it again gives the same policy."""
    return policy.model_dump(mode="json")


# --- decisions the policy drives -------------------------------------------------------


@dataclass(frozen=True)
class Promise:
    """When an order is due (``due``), by which window, and when it should have been handed
    to the carrier (``handling_due``); both are the end of a business day, in UTC."""

    due: datetime
    window: str
    handling_due: datetime | None = None


def level_key(service_level: str) -> str:
    """How service levels are compared: case and runs of spaces do not matter."""
    return " ".join(service_level.split()).casefold()


def window_for(policy: FulfillmentPolicy, service_level: str | None) -> str | None:
    """The promise window an order's shipping line buys.

    Tried in order: the policy's ``service_levels`` map, a window of the same name, then
    ``default_window`` (also for an order that names no shipping line at all).
    """
    key = level_key(service_level) if service_level is not None else ""
    if key:
        for level, window in policy.service_levels.items():
            if level_key(level) == key:
                return window
        for name in policy.promise_windows:
            if level_key(name) == key:
                return name
    return policy.default_window


def promise_for(
    policy: FulfillmentPolicy, service_level: str | None, placed_at: datetime
) -> Promise | None:
    """The promise of an order placed at ``placed_at``, or None when no window applies.

    Counted in the policy's time zone: an order placed after the cut-off, or on a weekend
    or holiday, starts from the next business day (day zero); handling and transit days
    follow, skipping weekends and holidays. Both deadlines are the end (23:59:59) of
    their last business day in the policy's zone, so "due on Thursday" means all of
    Thursday as the shop's customers read it, whatever the season's UTC offset.
    """
    name = window_for(policy, service_level)
    if name is None:
        return None
    window = policy.promise_windows[name]
    handling_day, due_day = _promise_days(policy, window, placed_at)
    zone = policy.zone
    return Promise(
        due=_end_of(due_day, zone), window=name, handling_due=_end_of(handling_day, zone)
    )


def promised_by(policy: FulfillmentPolicy, window_name: str, placed_at: datetime) -> datetime:
    """End of the business day on which an order of window ``window_name`` is due (UTC).

    Unlike ``promise_for`` the window is named directly, so an unknown name is a mistake
    of the caller (``KeyError``), not an order without a promise.
    """
    window = policy.promise_windows.get(window_name)
    if window is None:
        known = ", ".join(sorted(policy.promise_windows))
        raise KeyError(f"no promise window for service level {window_name!r} (known: {known})")
    return _end_of(_promise_days(policy, window, placed_at)[1], policy.zone)


def _promise_days(
    policy: FulfillmentPolicy, window: PromiseWindow, placed_at: datetime
) -> tuple[date, date]:
    """The local business days on which handling ends and the promise falls due."""
    if placed_at.tzinfo is None or placed_at.utcoffset() is None:
        raise ValueError(f"placed_at must carry a time zone: {placed_at.isoformat()}")
    local = placed_at.astimezone(policy.zone)
    holidays = frozenset(policy.holidays)
    day = local.date()
    if local.time() >= window.cutoff or not _business(day, holidays):
        day = _next_business(day, holidays)
    handling = _after_business_days(day, window.handling, holidays)
    return handling, _after_business_days(handling, window.days - window.handling, holidays)


def _end_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone).astimezone(UTC)


def _business(day: date, holidays: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def _next_business(day: date, holidays: frozenset[date]) -> date:
    day += timedelta(days=1)
    while not _business(day, holidays):
        day += timedelta(days=1)
    return day


def _after_business_days(day: date, count: int, holidays: frozenset[date]) -> date:
    for _ in range(count):
        day = _next_business(day, holidays)
    return day


class RefundApproval(StrEnum):
    AUTOMATIC = "automatic"
    APPROVER = "approver"
    FINANCE = "finance"


def refund_approval(limits: RefundLimits, amount_minor: int) -> RefundApproval:
    if amount_minor < limits.auto_approve_under_minor:
        return RefundApproval.AUTOMATIC
    if amount_minor > limits.finance_approval_over_minor:
        return RefundApproval.FINANCE
    return RefundApproval.APPROVER


def substitution_allowed(
    rules: SubstitutionRules, *, category: str, original_minor: int, substitute_minor: int
) -> bool:
    if category not in rules.allowed_categories:
        return False
    if original_minor <= 0:
        return substitute_minor <= 0
    increase = Decimal(substitute_minor - original_minor) * 100 / Decimal(original_minor)
    return increase <= rules.max_price_increase_pct


def detector_enabled(policy: FulfillmentPolicy, exception_type: ExceptionType) -> bool:
    """Detectors the policy does not mention stay on: silence must not disable a check."""
    settings = policy.detectors.get(exception_type)
    return settings is None or settings.enabled


# --- what changed between two versions ---------------------------------------------------


@dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any


def policy_diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Change]:
    """Leaf-by-leaf differences, by dotted path, for the audit record of a new version."""
    changes: list[Change] = []
    _diff("", before or {}, after, changes)
    return changes


def _diff(prefix: str, before: Any, after: Any, out: list[Change]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(before.keys() | after.keys(), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            _diff(path, before.get(key), after.get(key), out)
        return
    if before != after:
        out.append(Change(prefix or "(root)", before, after))
