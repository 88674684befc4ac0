"""The provenance rule: which of the proposer's acts on an approver's identity disqualify it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orderops.domain.approver_provenance import (
    IdentityAct,
    IdentityActKind,
    disqualifying,
    refusal,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def act(kind: IdentityActKind, *, by: str = "user:p", ago: timedelta = timedelta(0)) -> IdentityAct:
    return IdentityAct(act=kind, actor=by, at=NOW - ago, user_id="u1", key_id=None)


def test_every_act_that_hands_over_power_counts_within_the_window() -> None:
    acts = [act(kind, ago=timedelta(days=1)) for kind in IdentityActKind]

    found = disqualifying(acts, proposer="user:p", now=NOW, window=WEEK)

    assert {a.act for a in found} == {
        IdentityActKind.CREATED,
        IdentityActKind.ROLE_CHANGED,
        IdentityActKind.PASSWORD_SET,
        IdentityActKind.KEY_ISSUED,
    }


def test_other_peoples_acts_old_acts_and_a_zero_window_do_not_count() -> None:
    acts = [
        act(IdentityActKind.CREATED, by="user:someone-else"),
        act(IdentityActKind.PASSWORD_SET, ago=WEEK),
        act(IdentityActKind.KEY_ISSUED, ago=WEEK + timedelta(seconds=1)),
    ]

    assert disqualifying(acts, proposer="user:p", now=NOW, window=WEEK) == []
    assert (
        disqualifying(
            [act(IdentityActKind.CREATED)], proposer="user:p", now=NOW, window=timedelta(0)
        )
        == []
    )


def test_the_refusal_names_each_act_its_actor_and_time_and_the_window() -> None:
    found = [act(IdentityActKind.CREATED, ago=timedelta(hours=2))]

    error = refusal(
        approver="user:u1 (Sock)", proposer="user:p", subject="action a1", acts=found, window=WEEK
    )

    assert error.code == "approver-made-by-proposer"
    assert "user:u1 (Sock) cannot approve action a1" in error.message
    assert "created by user:p at 2026-11-20T10:00:00+00:00" in error.message
    assert "7-day provenance window" in error.message
