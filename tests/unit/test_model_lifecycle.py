"""A model version's lifecycle: candidate -> promoted -> retired, nothing comes back."""

from __future__ import annotations

import pytest

from orderops.domain.errors import IllegalTransition
from orderops.domain.model_lifecycle import (
    ModelKind,
    ModelRegistryError,
    ModelStatus,
    check_move,
    parse_kind,
)

C, P, R = ModelStatus.CANDIDATE, ModelStatus.PROMOTED, ModelStatus.RETIRED


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (C, P, True),
        (C, R, True),
        (P, R, True),
        (P, C, False),
        (R, P, False),
        (R, C, False),
        (P, P, False),
        (C, C, False),
    ],
)
def test_moves_follow_one_table(current: ModelStatus, target: ModelStatus, allowed: bool) -> None:
    if allowed:
        check_move(current, target)
    else:
        with pytest.raises(IllegalTransition, match=f"a {current} model version cannot become"):
            check_move(current, target)


def test_kinds_are_named_and_an_unknown_one_lists_the_known() -> None:
    assert parse_kind("delay") is ModelKind.DELAY
    assert parse_kind("ticket_class") is ModelKind.TICKET_CLASS
    with pytest.raises(ModelRegistryError, match="use one of: delay, ticket_class"):
        parse_kind("Delay")
