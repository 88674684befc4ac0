"""Meters, months, quotas and the invoice rows: the rules of metering, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from orderops.api.usage_meter import route_group
from orderops.domain.usage import (
    InvalidPeriod,
    InvalidQuota,
    Meter,
    Month,
    Period,
    Quota,
    QuotaExceeded,
    QuotaLevel,
    QuotaStatus,
    day_of,
    warning_header,
)
from orderops.metering.usage_report import UsageRow, csv_text
from orderops.metering.usage_settings import ModelPrice

NOVEMBER = Month(2026, 11)


def test_a_moment_counts_on_its_utc_day() -> None:
    evening_in_new_york = datetime(2026, 11, 20, 19, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert day_of(evening_in_new_york) == "2026-11-21"


def test_a_month_resets_at_the_first_moment_of_the_next_one_also_across_a_year() -> None:
    assert NOVEMBER.resets_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert Month(2026, 12).resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert Month(2026, 12).next.first_day == "2027-01-01"
    assert Month.of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)).label == "2026-12"


def test_a_period_defaults_to_the_month_so_far_and_refuses_nonsense() -> None:
    today = date(2026, 11, 20)
    assert Period.of(None, None, today=today) == Period(date(2026, 11, 1), today)
    assert Period.of(None, date(2026, 10, 15), today=today).first == date(2026, 10, 1)
    assert Period.of(date(2026, 11, 3), date(2026, 11, 3), today=today).bounds == (
        "2026-11-03",
        "2026-11-04",
    )
    with pytest.raises(InvalidPeriod, match="starts"):
        Period.of(date(2026, 11, 5), date(2026, 11, 4), today=today)
    with pytest.raises(InvalidPeriod, match="at most 367 days"):
        Period.of(date(2025, 1, 1), date(2026, 11, 4), today=today)


def test_a_quota_warns_before_it_refuses() -> None:
    with pytest.raises(InvalidQuota, match="must not exceed"):
        Quota(Meter.EVENTS, soft=10, hard=5)
    with pytest.raises(InvalidQuota, match="negative"):
        Quota(Meter.EVENTS, hard=-1)
    quota = Quota(Meter.EVENTS, soft=5, hard=10)
    levels = [QuotaStatus(quota, used, NOVEMBER).level for used in (4, 5, 9, 10, 11)]
    assert levels == [
        QuotaLevel.OK,
        QuotaLevel.WARNING,
        QuotaLevel.WARNING,
        QuotaLevel.EXCEEDED,
        QuotaLevel.EXCEEDED,
    ]
    assert QuotaStatus(Quota(Meter.CASES, hard=3), 2, NOVEMBER).level is QuotaLevel.OK


def test_the_warning_header_lists_each_meter_past_its_soft_limit() -> None:
    statuses = [
        QuotaStatus(Quota(Meter.EVENTS, soft=5, hard=10), 7, NOVEMBER),
        QuotaStatus(Quota(Meter.CASES, soft=5), 1, NOVEMBER),
        QuotaStatus(Quota(Meter.MODEL_COST, hard=1_000_000), 1_000_000, NOVEMBER),
    ]
    assert warning_header(statuses) == (
        'events; used=7; soft=5; hard=10; resets="2026-12-01T00:00:00Z", '
        'model_cost; used=1000000; hard=1000000; resets="2026-12-01T00:00:00Z"'
    )
    assert warning_header(statuses[1:2]) is None


def test_a_refusal_names_the_quota_and_when_it_resets() -> None:
    status = QuotaStatus(Quota(Meter.EVENTS, soft=5, hard=10), 10, NOVEMBER)
    refusal = QuotaExceeded(status, tenant_id="acme")
    assert refusal.message.startswith("tenant acme has used its monthly events quota (10 of a")
    assert "resets at 2026-12-01T00:00:00Z" in refusal.message
    noon = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert refusal.retry_after_seconds(noon) == 12 * 3600


def test_model_cost_is_counted_in_micro_dollars_from_prices_per_million_tokens() -> None:
    price = ModelPrice(prompt=0.15, completion=0.6)
    assert price.cost_micros(1_000_000, 0) == 150_000
    assert price.cost_micros(120, 40) == round(120 * 0.15 + 40 * 0.6)


def test_api_calls_are_grouped_by_the_first_path_segment_after_the_version() -> None:
    assert route_group("/v1/cases/c-1/actions") == "cases"
    assert route_group("/v1/usage") == "usage"
    assert route_group("/metrics") == "metrics"
    assert route_group("/") == "root"


def test_the_csv_never_hands_a_spreadsheet_a_formula() -> None:
    rows = [
        UsageRow("acme", "live", "2026-11-20", "model_tokens", "=HYPERLINK(1):prompt", 5, "token")
    ]
    assert csv_text(rows).splitlines()[1] == (
        "acme,live,2026-11-20,model_tokens,'=HYPERLINK(1):prompt,5,token"
    )
