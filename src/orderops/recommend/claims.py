"""What a draft claims, as typed values, and what a case lets a draft claim.

The claim checker (``claim_parsing`` reads a draft into :class:`Claim` values,
``claim_checks`` holds each against :class:`KnownFacts`) replaced a list of patterns: a
pattern can only say "this string is not one of the case's", while a claim says what the
draft asserts (we refunded 25 dollars, your order ships today, half off) so it can be
held against what was approved and what happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class ClaimKind(StrEnum):
    MONEY = "amount"
    PERCENT = "percent"
    DATE = "date"
    ORDER = "order_number"
    TRACKING = "tracking_number"
    SKU = "sku"
    ACTION = "action"
    EMAIL = "email"
    PHONE = "phone"
    LINK = "link"
    INSTRUCTION = "instruction"


class Tense(StrEnum):
    DONE = "done"
    """Said to have happened (refunded, has shipped, is on its way)."""
    PROMISED = "promised"
    """Said to happen (will refund, ships today, we are sending)."""


class Action(StrEnum):
    """What a draft can say the retailer does; each is backed by actions or by facts."""

    REFUND = "refund"
    CREDIT = "credit"
    DISCOUNT = "discount"
    CANCEL = "cancel"
    SHIP = "ship"
    RESHIP = "reship"
    SUBSTITUTE = "substitute"
    UPGRADE = "upgrade"
    DELIVER = "deliver"


@dataclass(frozen=True, kw_only=True)
class Claim:
    kind: ClaimKind
    text: str
    """The words of the draft the claim was read from, as written."""
    at: int = 0
    """Where in the draft it starts: a day belongs to the nearest action of its sentence."""
    sentence: int = 0
    """Index of the sentence it stands in: amounts, dates and actions of one sentence
    belong together ("we refunded $5 today")."""
    amount_minor: int | None = None
    currency: str | None = None
    percent: float | None = None
    day: date | None = None
    relative: bool = False
    """A day named relative to today ("tomorrow", "by Friday", "in 3 days"); ``day`` is
    None when it names no single day ("this week", "in 3-5 days")."""
    action: Action | None = None
    tense: Tense | None = None
    whole: bool = False
    """The action is said of the whole order (whole order, in full, all items)."""
    value: str | None = None
    """The canonical value of an identifier (order number without '#', tracking code)."""


@dataclass(frozen=True, kw_only=True)
class KnownFacts:
    """What a draft may cite and claim: the case's values, in canonical form."""

    amounts_minor: frozenset[int]
    dates: frozenset[date]
    order_ids: frozenset[str]
    tracking_numbers: frozenset[str]
    skus: frozenset[str]
    other_ids: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()
    promises_refund: bool = False
    promises_credit: bool = False
    refund_amounts: frozenset[int] = frozenset()
    """Amounts a sentence about a refund may name (the refunds the candidate gives)."""
    credit_amounts: frozenset[int] = frozenset()
    currency: str | None = None
    """The order's currency; an amount in another is not the case's."""
    today: date | None = None
    """What "today", "tomorrow" and "by Friday" are counted from."""
    actions: frozenset[Action] = frozenset()
    """What the approved recommendation does, in the words a draft would use."""
    whole_actions: frozenset[Action] = frozenset()
    """Those of ``actions`` that cover the whole order (cancel order, reship all, refund
    the total)."""
    happened: frozenset[Action] = frozenset()
    """What the case's facts show has already happened (shipped, delivered, refunded,
    cancelled)."""
    happened_whole: frozenset[Action] = frozenset()
    happened_on: frozenset[tuple[Action, date]] = frozenset()
    """The days the facts show a parcel shipped or was delivered: "it shipped today" must
    name one of them."""
    percents: frozenset[float] = frozenset()
    """Percentages a draft may state: the approved refund or credit over the order total."""
    promise_dates: frozenset[date] = frozenset()
    """Days a promise may be tied to: the carrier's estimated delivery still ahead."""


@dataclass(frozen=True)
class Problem:
    kind: str
    value: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value, "message": self.message}


@dataclass(frozen=True)
class CheckResult:
    problems: tuple[Problem, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, object]:
        return {"passed": self.passed, "problems": [p.as_json() for p in self.problems]}
