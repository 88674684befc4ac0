"""What projecting one event changed: the orders to judge again, and the keys now known."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Projection:
    order_refs: frozenset[str]
    """Orders whose state this event may have changed: the ones detectors re-judge."""
    summary: str = ""
    new_keys: tuple[str, ...] = ()
    """Alias keys that name something new since this event (registered now, or naming an
    entity that was just tied to an order): records waiting on them may go again."""


def refs(*order_refs: str | None) -> frozenset[str]:
    return frozenset(ref for ref in order_refs if ref)
