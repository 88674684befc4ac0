"""What a customer's support ticket asks for, as the ticket classifier says. Pure.

One closed set, so routing rules, detectors and the console can switch on it.
``OTHER`` is the catch-all, and also what a verdict below its class's confidence
floor becomes: an unsure classifier never triggers a strong action.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TicketClass(StrEnum):
    WHERE_IS_MY_ORDER = "where_is_my_order"
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    CANCEL_REQUEST = "cancel_request"
    ADDRESS_CHANGE = "address_change"
    REFUND_REQUEST = "refund_request"
    OTHER = "other"


REVIEWER_LABEL = "reviewer"
"""The ``model`` of a class a person set: it stands (no model reclassifies the ticket) and is
what a tenant's own classifier learns from."""

ACTIONABLE: frozenset[TicketClass] = frozenset(
    {TicketClass.CANCEL_REQUEST, TicketClass.ADDRESS_CHANGE}
)
"""Classes that can open a case on their own (a request to change an unshipped order)."""

DEFAULT_MIN_CONFIDENCE = 0.5
"""Below this probability the verdict is ``OTHER``."""

ACTIONABLE_MIN_CONFIDENCE = 0.75
"""A class in ``ACTIONABLE`` opens a case only at or above this (detectors may ask more)."""


@dataclass(frozen=True)
class TicketVerdict:
    """The class a ticket was given, how sure the model was, and which model said so.

    ``raw_class`` is the model's top class before the confidence floor: kept so a
    reviewer can see what an "other" nearly was.
    """

    ticket_class: TicketClass
    confidence: float
    model: str
    raw_class: TicketClass

    @property
    def strong(self) -> bool:
        return self.ticket_class is not TicketClass.OTHER


def settle(
    raw_class: TicketClass,
    confidence: float,
    *,
    model: str,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    actionable_min_confidence: float = ACTIONABLE_MIN_CONFIDENCE,
) -> TicketVerdict:
    """Apply the confidence floors: an unsure top class becomes ``OTHER``."""
    floor = actionable_min_confidence if raw_class in ACTIONABLE else min_confidence
    final = raw_class if confidence >= floor else TicketClass.OTHER
    return TicketVerdict(
        ticket_class=final, confidence=round(confidence, 4), model=model, raw_class=raw_class
    )
