"""The console's pure parts: passwords, CSRF tokens (of a session, and of the sign-in
form), SLA states, sorting, percentiles and charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.console import charts
from orderops.console.dash_figures import percentile
from orderops.console.queue_view import CaseRow, SlaState, SortKey, impact_of, sla_state, sort_rows
from orderops.console.security import (
    LOGIN_FORM_LIFETIME,
    csrf_ok,
    csrf_token,
    hash_password,
    login_form_ok,
    login_form_token,
    verify_password,
)

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_a_password_verifies_only_against_its_own_hash() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("scrypt$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("anything", None)
    assert not verify_password("anything", "md5$abc")
    assert hash_password("same") != hash_password("same")  # salted


def test_a_sign_in_form_token_belongs_to_its_nonce_and_lapses() -> None:
    token = login_form_token("nonce-1", "s", NOW)
    assert login_form_ok("nonce-1", "s", token, NOW + LOGIN_FORM_LIFETIME)
    assert not login_form_ok(
        "nonce-1", "s", token, NOW + LOGIN_FORM_LIFETIME + timedelta(seconds=1)
    )
    assert not login_form_ok("nonce-2", "s", token, NOW)
    assert not login_form_ok("nonce-1", "another secret", token, NOW)
    assert not login_form_ok("", "s", token, NOW)
    issued, mac = token.split(".")
    assert not login_form_ok("nonce-1", "s", f"{int(issued) + 3600}.{mac}", NOW)
    assert not login_form_ok("nonce-1", "s", None, NOW)


def test_a_csrf_token_belongs_to_one_session() -> None:
    mine, theirs = "token-of-my-session", "token-of-their-session"
    assert csrf_ok(mine, "s", csrf_token(mine, "s"))
    assert not csrf_ok(mine, "s", csrf_token(theirs, "s"))
    assert not csrf_ok(mine, "another secret", csrf_token(mine, "s"))
    assert not csrf_ok(mine, "s", None)


@pytest.mark.parametrize(
    ("status", "due_in", "breached_before", "expected"),
    [
        ("new", timedelta(hours=5), False, SlaState.ON_TRACK),
        ("new", timedelta(minutes=30), False, SlaState.AT_RISK),
        ("triaged", timedelta(minutes=-1), False, SlaState.BREACHED),
        ("escalated", timedelta(hours=5), True, SlaState.BREACHED),
        ("snoozed", timedelta(minutes=-1), True, SlaState.PAUSED),
        ("new", None, False, SlaState.NONE),
    ],
)
def test_sla_state(
    status: str, due_in: timedelta | None, breached_before: bool, expected: SlaState
) -> None:
    due = NOW + due_in if due_in is not None else None
    assert (
        sla_state(status=status, due_at=due, breached_before=breached_before, now=NOW) == expected
    )


@pytest.mark.parametrize(
    ("facts", "expected"),
    [({"impact": 7}, 7.0), ({"impact": {"score": 2.5}}, 2.5), ({}, None), ({"impact": "x"}, None)],
)
def test_impact_is_read_only_when_the_scorer_left_a_number(
    facts: dict[str, object], expected: float | None
) -> None:
    assert impact_of(facts) == expected


def _row(name: str, *, opened_h: int, due_h: int | None, impact: float | None) -> CaseRow:
    return CaseRow(
        id=name,
        order_ref=name,
        exception_type="t",
        status="new",
        priority="normal",
        assignee=None,
        summary="",
        opened_at=NOW - timedelta(hours=opened_h),
        version=1,
        sla_due=NOW + timedelta(hours=due_h) if due_h is not None else None,
        sla_state=SlaState.NONE,
        impact=impact,
    )


def test_sorting_puts_the_most_urgent_first_and_falls_back_to_age() -> None:
    rows = [
        _row("a", opened_h=1, due_h=5, impact=None),
        _row("b", opened_h=9, due_h=None, impact=3.0),
        _row("c", opened_h=5, due_h=1, impact=8.0),
        _row("d", opened_h=3, due_h=None, impact=None),
    ]
    assert [r.id for r in sort_rows(rows, SortKey.IMPACT)] == ["c", "b", "a", "d"]
    assert [r.id for r in sort_rows(rows, SortKey.SLA)] == ["c", "a", "b", "d"]
    assert [r.id for r in sort_rows(rows, SortKey.OLDEST)] == ["b", "c", "d", "a"]


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([1.0], 50, 1.0), ([1.0, 3.0], 50, 2.0), ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9.1)],
)
def test_percentile_interpolates(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_charts_escape_labels_and_say_what_they_show() -> None:
    svg = str(charts.hbar_chart("Top SKUs", [("<b>", 3.0), ("x", 1.0)]))
    assert 'aria-label="Top SKUs"' in svg
    assert "&lt;b&gt;" in svg
    assert "<b>" not in svg
    assert "No data" in str(charts.stacked_columns("Empty", [], {}))
    assert [charts.nice_max(v) for v in (0, 3, 7, 12, 250)] == [1.0, 5.0, 10.0, 20.0, 500.0]
