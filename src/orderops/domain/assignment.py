"""Choosing who in a queue takes the next case. Pure: loads and rosters come in as data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def next_round_robin(members: Sequence[str], last: str | None) -> str | None:
    """The member after ``last`` in name order, wrapping around.

    Keyed on the last member's name rather than an index, so people joining or leaving
    the queue never make the rotation skip or repeat someone.
    """
    ordered = sorted(set(members))
    if not ordered:
        return None
    if last is None:
        return ordered[0]
    later = [m for m in ordered if m > last]
    return later[0] if later else ordered[0]


def least_loaded(loads: Mapping[str, int]) -> str | None:
    """The member with the fewest open cases; ties go to the first name, for determinism."""
    if not loads:
        return None
    return min(sorted(loads), key=lambda member: loads[member])
