"""Support tickets customers open: mostly "where is my order?" when a parcel is late.

Tickets never produce labels; they are evidence a reviewer would want next to a case,
and noise a detector must not mistake for an exception.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from orderops.domain.statuses import PaymentStatus
from orderops.sim.facts import LateMode, PaymentStep, TicketPlan
from orderops.sim.ids import IdFactory
from orderops.sim.transit import whole_seconds

CANCEL_SUBJECT = "Please cancel order"
"""How an injected cancel request's subject starts (sim.inject); the label rules know it."""
LATE_TICKET_SHARE = 0.6
FAILED_TICKET_SHARE = 0.25
ROUTINE_TICKET_SHARE = 0.03

_ROUTINE = (
    (
        "Question about order {number}",
        "Hi, can I still change the delivery address on order {number}? We are moving next week.",
    ),
    (
        "Gift note for order {number}",
        "Hello! Order {number} is a gift. Could you leave the receipt out of the box?",
    ),
    (
        "Sizing on order {number}",
        "I think I ordered the wrong size in order {number}. What is your exchange process?",
    ),
)


def plan_tickets(
    rng: random.Random,
    ids: IdFactory,
    *,
    number: str,
    placed_at: datetime,
    promised_by: datetime,
    payments: tuple[PaymentStep, ...],
    cancelled: bool,
    late_mode: LateMode | None,
) -> tuple[TicketPlan, ...]:
    if late_mode is not None:
        if rng.random() >= LATE_TICKET_SHARE:
            return ()
        at = whole_seconds(promised_by + timedelta(hours=rng.uniform(2, 30)))
        day = f"{promised_by:%B} {promised_by.day}"
        body = (
            f"Hi, my order {number} was supposed to arrive by {day} and the tracking "
            "has not moved. Where is my order? I needed it this week."
        )
        return (TicketPlan(ids.ticket_ref(), at, f"Where is my order {number}?", body),)
    if cancelled:
        if rng.random() >= FAILED_TICKET_SHARE:
            return ()
        failed = next(p for p in payments if p.status is PaymentStatus.FAILED)
        at = whole_seconds(failed.at + timedelta(hours=rng.uniform(0.2, 8)))
        body = (
            f"My payment for order {number} did not go through ({failed.failure_message}) "
            "but my bank says the card is fine. Can you help me complete the order?"
        )
        return (TicketPlan(ids.ticket_ref(), at, f"Payment problem with order {number}", body),)
    if rng.random() >= ROUTINE_TICKET_SHARE:
        return ()
    subject, body = rng.choice(_ROUTINE)
    at = whole_seconds(placed_at + timedelta(hours=rng.uniform(0.2, 20)))
    return (
        TicketPlan(ids.ticket_ref(), at, subject.format(number=number), body.format(number=number)),
    )
