"""The case state machine: a case moves only along its table; anything else raises.

The allowed moves are written out here as the specification, independently of
``TRANSITIONS``, so a change to the table in code shows up as a failing row.
"""

from __future__ import annotations

import itertools

import pytest

from orderops.domain.cases import (
    CLOSED_STATUSES,
    TRANSITIONS,
    CaseStatus,
    can_auto_resolve,
    check_transition,
    is_open,
)
from orderops.domain.errors import IllegalTransition

S = CaseStatus

ALLOWED: frozenset[tuple[CaseStatus, CaseStatus]] = frozenset(
    {
        (S.NEW, S.TRIAGED),
        (S.NEW, S.AWAITING_APPROVAL),
        (S.NEW, S.ESCALATED),
        (S.NEW, S.SNOOZED),
        (S.NEW, S.RESOLVED),
        (S.NEW, S.REJECTED),
        (S.TRIAGED, S.AWAITING_APPROVAL),
        (S.TRIAGED, S.ESCALATED),
        (S.TRIAGED, S.SNOOZED),
        (S.TRIAGED, S.RESOLVED),
        (S.TRIAGED, S.REJECTED),
        (S.AWAITING_APPROVAL, S.APPROVED),
        (S.AWAITING_APPROVAL, S.REJECTED),
        (S.AWAITING_APPROVAL, S.ESCALATED),
        (S.AWAITING_APPROVAL, S.RESOLVED),
        (S.APPROVED, S.EXECUTING),
        (S.APPROVED, S.RESOLVED),
        (S.EXECUTING, S.RESOLVED),
        (S.EXECUTING, S.FAILED),
        (S.FAILED, S.TRIAGED),
        (S.FAILED, S.ESCALATED),
        (S.FAILED, S.RESOLVED),
        (S.ESCALATED, S.TRIAGED),
        (S.ESCALATED, S.AWAITING_APPROVAL),
        (S.ESCALATED, S.SNOOZED),
        (S.ESCALATED, S.RESOLVED),
        (S.ESCALATED, S.REJECTED),
        (S.SNOOZED, S.TRIAGED),
        (S.SNOOZED, S.ESCALATED),
        (S.SNOOZED, S.RESOLVED),
        (S.SNOOZED, S.REOPENED),
        (S.RESOLVED, S.REOPENED),
        (S.REJECTED, S.REOPENED),
        (S.REOPENED, S.TRIAGED),
        (S.REOPENED, S.AWAITING_APPROVAL),
        (S.REOPENED, S.ESCALATED),
        (S.REOPENED, S.SNOOZED),
        (S.REOPENED, S.RESOLVED),
        (S.REOPENED, S.REJECTED),
    }
)

ALL_PAIRS = list(itertools.product(CaseStatus, CaseStatus))
FORBIDDEN = [pair for pair in ALL_PAIRS if pair not in ALLOWED]


def _id(pair: tuple[CaseStatus, CaseStatus]) -> str:
    return f"{pair[0]}->{pair[1]}"


@pytest.mark.parametrize("move", sorted(ALLOWED), ids=_id)
def test_every_allowed_move_returns_the_target(move: tuple[CaseStatus, CaseStatus]) -> None:
    current, target = move
    assert check_transition(current, target) is target


@pytest.mark.parametrize("move", FORBIDDEN, ids=_id)
def test_every_other_move_raises(move: tuple[CaseStatus, CaseStatus]) -> None:
    current, target = move
    with pytest.raises(IllegalTransition):
        check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.RESOLVED, S.EXECUTING),
        (S.NEW, S.APPROVED),
        (S.NEW, S.EXECUTING),
        (S.EXECUTING, S.NEW),
        (S.REJECTED, S.APPROVED),
        (S.AWAITING_APPROVAL, S.EXECUTING),
        (S.SNOOZED, S.APPROVED),
        (S.FAILED, S.EXECUTING),
        (S.RESOLVED, S.RESOLVED),
    ],
    ids=lambda s: str(s),
)
def test_representative_illegal_moves_name_both_statuses(
    current: CaseStatus, target: CaseStatus
) -> None:
    with pytest.raises(IllegalTransition) as raised:
        check_transition(current, target)
    assert str(current) in raised.value.message
    assert str(target) in raised.value.message
    assert raised.value.code == "illegal-transition"


def test_the_table_has_a_row_for_every_status() -> None:
    assert set(TRANSITIONS) == set(CaseStatus)


def test_no_move_ever_leads_back_to_new() -> None:
    assert all(target is not S.NEW for _, target in ALLOWED)


def test_a_closed_case_can_only_be_reopened() -> None:
    for status in CLOSED_STATUSES:
        assert {t for c, t in ALLOWED if c is status} == {S.REOPENED}


def test_every_status_is_reachable_from_new() -> None:
    reached, frontier = {S.NEW}, [S.NEW]
    while frontier:
        current = frontier.pop()
        for target in TRANSITIONS[current] - reached:
            reached.add(target)
            frontier.append(target)
    assert reached == set(CaseStatus)


@pytest.mark.parametrize(
    ("status", "open_"),
    [
        (S.NEW, True),
        (S.TRIAGED, True),
        (S.AWAITING_APPROVAL, True),
        (S.APPROVED, True),
        (S.EXECUTING, True),
        (S.FAILED, True),
        (S.ESCALATED, True),
        (S.SNOOZED, True),
        (S.REOPENED, True),
        (S.RESOLVED, False),
        (S.REJECTED, False),
    ],
    ids=lambda s: str(s),
)
def test_only_resolved_and_rejected_are_closed(status: CaseStatus, open_: bool) -> None:
    assert is_open(status) is open_


@pytest.mark.parametrize(
    ("status", "auto"),
    [
        (S.NEW, True),
        (S.TRIAGED, True),
        (S.ESCALATED, True),
        (S.REOPENED, True),
        (S.SNOOZED, True),
        (S.AWAITING_APPROVAL, False),
        (S.APPROVED, False),
        (S.EXECUTING, False),
        (S.FAILED, False),
        (S.RESOLVED, False),
        (S.REJECTED, False),
    ],
    ids=lambda s: str(s),
)
def test_auto_resolve_only_while_no_human_decision_is_under_way(
    status: CaseStatus, auto: bool
) -> None:
    assert can_auto_resolve(status) is auto


@pytest.mark.parametrize("status", [s for s in CaseStatus if can_auto_resolve(s)], ids=str)
def test_every_auto_resolvable_status_may_legally_move_to_resolved(status: CaseStatus) -> None:
    assert check_transition(status, S.RESOLVED) is S.RESOLVED
