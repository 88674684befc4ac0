"""The dashboards' pure parts: readable axis labels, durations, SLA attainment, backlog."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest

from orderops.console.charts import CHAR_W, stacked_columns
from orderops.console.dash_figures import CaseFact, backlog_age, hours_text, sla_attainment

T = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize("days", [7, 14, 31, 90, 366])
@pytest.mark.parametrize("width", [420, 1100])
def test_day_labels_under_columns_never_overlap(days: int, width: int) -> None:
    buckets = [(T.date() - timedelta(days=d)).isoformat() for d in range(days)][::-1]
    svg = str(stacked_columns("t", buckets, {"a": [1.0] * days}, width=width))

    xs = [float(x) for x in re.findall(r'<text x="([\d.]+)" y="\d+" text-anchor="middle"', svg)]
    label_width = len("11-20") * CHAR_W

    assert len(xs) >= 2
    assert min(b - a for a, b in itertools.pairwise(xs)) >= label_width


@pytest.mark.parametrize(
    ("hours", "text"), [(0.25, "15 min"), (1.5, "1.5 h"), (47.9, "47.9 h"), (72, "3.0 d")]
)
def test_durations_read_in_the_unit_that_fits(hours: float, text: str) -> None:
    assert hours_text(hours) == text


def _fact(i: str, priority: str, *, closed: bool) -> CaseFact:
    return CaseFact(
        i,
        "shipment_late",
        "ops",
        "resolved" if closed else "new",
        T,
        T if closed else None,
        "o",
        priority,
    )


def test_sla_attainment_counts_only_judged_cases() -> None:
    cases = [
        _fact("met", "P1", closed=True),
        _fact("late-closed", "P1", closed=True),
        _fact("late-open", "P1", closed=False),
        _fact("running", "P1", closed=False),  # still inside its SLA: not judged yet
        _fact("p2-met", "P2", closed=True),
    ]

    bars = sla_attainment(cases, breached={"late-closed", "late-open"})

    assert [(b.key, round(b.value, 1), b.cases, b.note) for b in bars] == [
        ("P1", 33.3, ("late-closed", "late-open", "met"), "1 of 3 met"),
        ("P2", 100.0, ("p2-met",), "1 of 1 met"),
    ]


def test_backlog_age_puts_each_open_case_in_one_bucket() -> None:
    ages = {"a": 1, "b": 5, "c": 30, "d": 100, "e": 24 * 30}
    bars = backlog_age(((k, T - timedelta(hours=h)) for k, h in ages.items()), T)

    assert [(b.key, b.cases) for b in bars] == [
        ("under 4 h", ("a",)),
        ("4-24 h", ("b",)),
        ("1-3 days", ("c",)),
        ("3-7 days", ("d",)),
        ("over 7 days", ("e",)),
    ]
