"""Support tickets customers write, each naming its order the way real customers do.

Some quote the order name ("#1538"), some write "order 1538" or "order no. 1538", some
fill the order-number field of the web form (with or without the "#"), the Shopify app
sets the external id to the order's id, and some name nothing at all: only their email
tells which customer wrote.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from orderops.sim.providers.ids import ProviderIds
from orderops.sim.providers.story import TicketStory

KEY_STYLES = (
    ("hash", 0.3),
    ("order_word", 0.15),
    ("order_no", 0.1),
    ("custom_field", 0.15),
    ("custom_field_hash", 0.05),
    ("external_id", 0.1),
    ("email_only", 0.15),
)

_TEXTS: dict[str, tuple[tuple[str, str], ...]] = {
    "wismo": (
        (
            "Where is my {subject_ref}?",
            "Hi, my {ref} was supposed to arrive by {day} and the tracking has not moved. "
            "Where is it? I needed it this week.",
        ),
        (
            "Delivery status{subject_sep}{subject_ref}",
            "Hello, I am still waiting for my {ref}. Can you tell me when it will arrive?",
        ),
    ),
    "payment": (
        (
            "Payment problem",
            "My payment for {ref} did not go through but my bank says the card is fine. "
            "Can you help me complete it?",
        ),
    ),
    "routine": (
        (
            "Question about my {subject_ref}",
            "Hi, can I still change the delivery instructions on my {ref}? Please leave it "
            "with the concierge.",
        ),
        (
            "Gift note",
            "Hello! My {ref} is a gift. Could you leave the receipt out of the box?",
        ),
        (
            "Sizing question",
            "I think I picked the wrong size in my {ref}. What is your exchange process?",
        ),
    ),
    "chase": (
        (
            "Any update on my {subject_ref}?",
            "Hello again, any news on my {ref}? I have not heard back from you yet.",
        ),
        (
            "Still waiting{subject_sep}{subject_ref}",
            "This is my {nth} message about my {ref}. Please reply, I am getting worried.",
        ),
    ),
}
_NTH = ("first", "second", "third", "fourth", "fifth")


def pick_style(rng: random.Random) -> str:
    return rng.choices([s for s, _ in KEY_STYLES], weights=[w for _, w in KEY_STYLES])[0]


def _refs(style: str, number: int) -> tuple[str, str]:
    """(how the body names the order, how the subject does)."""
    if style == "hash":
        return f"order #{number}", f"order #{number}"
    if style == "order_word":
        return f"order {number}", "order"
    if style == "order_no":
        return f"order (order no. {number})", "order"
    return "order", "order"


class TicketWriter:
    def __init__(self, rng: random.Random, ids: ProviderIds) -> None:
        self._rng = rng
        self._ids = ids
        self._next_ticket = 48_200
        self._requesters: dict[str, int] = {}

    def requester(self, customer_ref: str) -> int:
        if customer_ref not in self._requesters:
            self._requesters[customer_ref] = int(self._ids.digits(12))
        return self._requesters[customer_ref]

    def write(
        self,
        *,
        purpose: str,
        style: str,
        at: datetime,
        number: int,
        customer_ref: str,
        day: datetime | None = None,
        nth: int = 0,
        solve: bool | None = None,
    ) -> TicketStory:
        rng = self._rng
        self._next_ticket += rng.randint(1, 30)
        subject, body = rng.choice(_TEXTS[purpose])
        ref, subject_ref = _refs(style, number)
        values = {
            "ref": ref,
            "subject_ref": subject_ref,
            "subject_sep": " - " if subject_ref != "order" else " on my ",
            "day": f"{day:%B} {day.day}" if day else "this week",
            "nth": _NTH[min(nth, len(_NTH) - 1)],
        }
        at = at.replace(microsecond=0)
        updates: list[tuple[datetime, str]] = []
        reply = at + timedelta(hours=rng.uniform(0.5, 8))
        updates.append((reply.replace(microsecond=0), "open"))
        if rng.random() < 0.4:
            updates.append(
                ((reply + timedelta(hours=rng.uniform(1, 20))).replace(microsecond=0), "pending")
            )
        if solve if solve is not None else rng.random() < 0.6:
            done = updates[-1][0] + timedelta(hours=rng.uniform(6, 60))
            updates.append((done.replace(microsecond=0), "solved"))
        return TicketStory(
            ticket_id=self._next_ticket,
            created_at=at,
            subject=subject.format(**values),
            description=body.format(**values),
            key=style,
            updates=tuple(updates),
            requester_id=self.requester(customer_ref),
        )
