"""The ticket/review topics the text classifier sorts messages into.

One closed set, so routing and playbooks can switch on it; ``OTHER`` is the
catch-all (praise, questions, anything no playbook handles). The product's own
classes are ``domain.ticket_classes.TicketClass``; ``TOPIC_CLASSES`` maps these to them.
"""

from __future__ import annotations

from enum import StrEnum

from orderops.domain.ticket_classes import TicketClass


class TicketTopic(StrEnum):
    LATE = "late"
    PARTIAL_DELIVERY = "partial_delivery"
    WRONG_OR_NOT_AS_DESCRIBED = "wrong_or_not_as_described"
    QUALITY = "quality"
    RETURN_OR_REFUND = "return_or_refund"
    CANCELLATION = "cancellation"
    ADDRESS_CHANGE = "address_change"
    OTHER = "other"


def ticket_class_of(topic: TicketTopic) -> TicketClass:
    """The product's ticket class for a review topic (how Olist labels are scored).

    A partial delivery is a wrong order content ("wrong or missing item") and low
    quality a damaged or defective item: what the desk would do about each is the same.
    """
    return TOPIC_CLASSES[topic]


TOPIC_CLASSES: dict[TicketTopic, TicketClass] = {
    TicketTopic.LATE: TicketClass.WHERE_IS_MY_ORDER,
    TicketTopic.PARTIAL_DELIVERY: TicketClass.WRONG_ITEM,
    TicketTopic.WRONG_OR_NOT_AS_DESCRIBED: TicketClass.WRONG_ITEM,
    TicketTopic.QUALITY: TicketClass.DAMAGED,
    TicketTopic.RETURN_OR_REFUND: TicketClass.REFUND_REQUEST,
    TicketTopic.CANCELLATION: TicketClass.CANCEL_REQUEST,
    TicketTopic.ADDRESS_CHANGE: TicketClass.ADDRESS_CHANGE,
    TicketTopic.OTHER: TicketClass.OTHER,
}
