"""The divergence report is a pure function of live cases and shadow decisions: what only
the candidate would open, what only live opened, and what both open but differently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderops.workflow.shadow_report import Decision, LiveCase, divergence

T0 = datetime(2026, 12, 1, tzinfo=UTC)
SINCE, UNTIL = T0, T0 + timedelta(days=1)
SAME = {
    "queue": "fraud",
    "priority": "P1",
    "action": "cancel_order",
    "amount_minor": 5000,
    "approvals": ["fraud"],
}


def live(n: int, *, by_event: bool = True, kind: str = "fraud_review", hours: int = 1) -> LiveCase:
    return LiveCase(
        case_id=f"c{n}",
        order_id=f"o{n}",
        order_ref=f"#{n}",
        exception_type=kind,
        opened_at=T0 + timedelta(hours=hours),
        by_event=by_event,
        queue="fraud",
        priority="P1",
    )


def decision(n: int, *, matched: bool = True, hours: int = 1, **candidate: Any) -> Decision:
    return Decision(
        order_id=f"o{n}",
        order_ref=f"#{n}",
        exception_type="fraud_review",
        opened_at=T0 + timedelta(hours=hours),
        cleared_at=None,
        live_case_id=f"c{n}" if matched else None,
        currency="USD",
        candidate={**SAME, **candidate},
        live=dict(SAME),
    )


def test_the_same_cases_decided_the_same_way_diverge_in_nothing() -> None:
    report = divergence([live(1), live(2)], [decision(1), decision(2)], since=SINCE, until=UNTIL)

    assert report.divergent == 0
    (fraud,) = report.types
    assert (fraud.both, fraud.only_candidate, fraud.only_live) == (2, 0, 0)
    assert fraud.money_minor == {"USD": {"candidate": 10000, "live": 10000}}


def test_cases_only_the_candidate_or_only_live_would_open_are_counted_with_examples() -> None:
    report = divergence(
        [live(1), live(2)],
        [decision(1), decision(3, matched=False), decision(4, matched=False)],
        since=SINCE,
        until=UNTIL,
    )

    (fraud,) = report.types
    assert (fraud.only_candidate, fraud.only_live, fraud.both) == (2, 1, 1)
    assert [e["order_ref"] for e in fraud.examples["only_candidate"]] == ["#3", "#4"]
    assert [e["case_id"] for e in fraud.examples["only_live"]] == ["c2"]
    assert report.divergent == 3


@pytest.mark.parametrize(
    ("changed", "value"),
    [
        ("queue", "finance"),
        ("priority", "P3"),
        ("action", "refund"),
        ("amount_minor", 2500),
        ("approvals", ["finance", "finance"]),
    ],
)
def test_each_difference_of_a_case_both_open_is_counted_once(changed: str, value: Any) -> None:
    report = divergence([live(1)], [decision(1, **{changed: value})], since=SINCE, until=UNTIL)

    (fraud,) = report.types
    assert fraud.changed == {k: int(k == changed) for k in fraud.changed}
    assert fraud.examples[changed] == [
        {
            "order_ref": "#1",
            "at": (T0 + timedelta(hours=1)).isoformat(),
            "case_id": "c1",
            "candidate": value,
            "live": SAME[changed],
        }
    ]


def test_a_case_a_sweep_opened_is_compared_like_any_other() -> None:
    # shadow mode follows the sweeps too, so a sweep's case the candidate never opened
    # is live's alone
    report = divergence([live(1, by_event=False), live(2)], [], since=SINCE, until=UNTIL)

    (fraud,) = report.types
    assert (fraud.live_by_sweep, fraud.only_live, fraud.live_opened) == (1, 2, 2)
    assert report.divergent == 2


def test_a_case_the_candidate_opened_first_is_both_and_earlier_by_its_lead() -> None:
    report = divergence(
        [live(1, hours=7)], [decision(1, matched=False, hours=3)], since=SINCE, until=UNTIL
    )

    (fraud,) = report.types
    assert (fraud.both, fraud.only_candidate, fraud.only_live) == (1, 0, 0)
    assert (fraud.earlier, fraud.later, fraud.hours_earlier) == (1, 0, 4.0)
    assert fraud.examples["earlier"] == [
        {
            "order_ref": "#1",
            "at": (T0 + timedelta(hours=3)).isoformat(),
            "case_id": "c1",
            "hours": 4.0,
        }
    ]
    assert report.divergent == 1


def test_a_case_the_candidate_opened_after_live_is_later() -> None:
    report = divergence([live(1, hours=2)], [decision(1, hours=5)], since=SINCE, until=UNTIL)

    (fraud,) = report.types
    assert (fraud.both, fraud.earlier, fraud.later, fraud.hours_earlier) == (1, 0, 1, -3.0)


def test_only_the_window_counts() -> None:
    report = divergence(
        [live(1, hours=-2), live(2, hours=30)],
        [decision(3, matched=False, hours=-1), decision(4, matched=False, hours=25)],
        since=SINCE,
        until=UNTIL,
    )

    assert report.types == ()


def test_a_live_case_for_an_order_the_candidate_opened_earlier_is_not_live_only() -> None:
    # the candidate opened before the window; live opened the same order's case inside it
    report = divergence(
        [live(1, hours=5)], [decision(1, matched=False, hours=-3)], since=SINCE, until=UNTIL
    )

    (fraud,) = report.types
    assert fraud.only_live == 0


def test_examples_are_capped() -> None:
    many = [decision(n, matched=False) for n in range(20)]

    report = divergence([], many, since=SINCE, until=UNTIL, examples=3)

    (fraud,) = report.types
    assert fraud.only_candidate == 20
    assert len(fraud.examples["only_candidate"]) == 3
