"""The ticket/review topics the text classifier sorts messages into.

One closed set, so routing and playbooks can switch on it; ``OTHER`` is the
catch-all (praise, questions, anything no playbook handles).
"""

from __future__ import annotations

from enum import StrEnum


class TicketTopic(StrEnum):
    LATE = "late"
    PARTIAL_DELIVERY = "partial_delivery"
    WRONG_OR_NOT_AS_DESCRIBED = "wrong_or_not_as_described"
    QUALITY = "quality"
    RETURN_OR_REFUND = "return_or_refund"
    CANCELLATION = "cancellation"
    ADDRESS_CHANGE = "address_change"
    OTHER = "other"
