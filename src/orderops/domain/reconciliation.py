"""Reconciliation: the desk's record of an effect beside what the vendor shows now.

An effect the outbox delivered was confirmed at the time; afterwards a person in the
vendor's dashboard, another integration or the vendor itself can undo or change it (a
refund edited, a hold released, a label voided, a comment deleted). Nothing tells the
desk, so operations and support start to disagree about the same order. This module is
the pure judgement: given what we recorded and what was read back, the disagreement, if
any, as a sentence a reviewer can act on. Reading the vendor is the workflow's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class CheckedEffect(StrEnum):
    """The delivered effects whose lasting state a vendor can be asked about."""

    STRIPE_REFUND = "stripe.refund"
    SHOPIFY_HOLD = "shopify.hold_fulfillment"
    EASYPOST_LABEL = "easypost.ship"
    ZENDESK_COMMENT = "zendesk.add_comment"


def checked_effect(system: str, operation: str) -> CheckedEffect | None:
    """Which check applies to an outbox row, or None for effects with nothing lasting to
    read back (a note, a reservation, an address verification)."""
    return _CHECKED.get((system, operation))


_CHECKED = {
    ("stripe", "refund"): CheckedEffect.STRIPE_REFUND,
    ("shopify", "hold_fulfillment"): CheckedEffect.SHOPIFY_HOLD,
    ("easypost", "ship"): CheckedEffect.EASYPOST_LABEL,
    ("easypost", "buy_label"): CheckedEffect.EASYPOST_LABEL,
    ("zendesk", "add_comment"): CheckedEffect.ZENDESK_COMMENT,
}
CHECKED_PAIRS = frozenset(_CHECKED)


class MismatchKind(StrEnum):
    MISSING = "missing"
    AMOUNT_DIFFERS = "amount_differs"
    REFUND_NOT_SUCCEEDED = "refund_not_succeeded"
    HOLD_RELEASED = "hold_released"
    LABEL_VOIDED = "label_voided"
    COMMENT_MISSING = "comment_missing"


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """What the desk wrote and believes stands."""

    effect: CheckedEffect
    vendor_ref: str
    """The vendor's id of what we made or changed (refund, fulfillment order, shipment,
    ticket)."""
    amount_minor: int | None = None


@dataclass(frozen=True, kw_only=True)
class Observed:
    """What the vendor shows now; ``found`` False when it knows nothing of ``vendor_ref``."""

    found: bool
    amount_minor: int | None = None
    status: str | None = None
    present: bool = True
    """For holds, labels and comments: whether our effect is still in place."""


@dataclass(frozen=True, kw_only=True)
class Disagreement:
    kind: MismatchKind
    sentence: str
    expected: Any
    actual: Any

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "sentence": self.sentence,
            "expected": self.expected,
            "actual": self.actual,
        }


REFUND_STANDING = frozenset({"succeeded", "pending"})
"""Refund statuses that still mean the money is (or is on its way) back with the customer."""


def compare(recorded: Recorded, observed: Observed) -> Disagreement | None:
    """The disagreement between our record and the vendor's state, or None when they agree."""
    ref = recorded.vendor_ref
    if not observed.found:
        return Disagreement(
            kind=MismatchKind.MISSING,
            sentence=f"{_NOUNS[recorded.effect]} {ref} that the desk delivered no longer "
            "exists at the vendor",
            expected="present",
            actual="missing",
        )
    if recorded.effect is CheckedEffect.STRIPE_REFUND:
        return _refund(recorded, observed)
    if observed.present:
        return None
    kind, sentence = _GONE[recorded.effect]
    return Disagreement(
        kind=kind,
        sentence=sentence.format(ref=ref, status=observed.status or "unknown"),
        expected="in place",
        actual=observed.status or "gone",
    )


def _refund(recorded: Recorded, observed: Observed) -> Disagreement | None:
    ref = recorded.vendor_ref
    if recorded.amount_minor is not None and observed.amount_minor != recorded.amount_minor:
        return Disagreement(
            kind=MismatchKind.AMOUNT_DIFFERS,
            sentence=f"Stripe refund {ref} is for {observed.amount_minor} (minor units), "
            f"the desk refunded {recorded.amount_minor}",
            expected=recorded.amount_minor,
            actual=observed.amount_minor,
        )
    if observed.status not in REFUND_STANDING:
        return Disagreement(
            kind=MismatchKind.REFUND_NOT_SUCCEEDED,
            sentence=f"Stripe refund {ref} is now {observed.status}: the customer may not "
            "have their money back",
            expected="succeeded",
            actual=observed.status,
        )
    return None


_NOUNS = {
    CheckedEffect.STRIPE_REFUND: "Stripe refund",
    CheckedEffect.SHOPIFY_HOLD: "Shopify fulfillment order",
    CheckedEffect.EASYPOST_LABEL: "EasyPost shipment",
    CheckedEffect.ZENDESK_COMMENT: "Zendesk ticket",
}

_GONE = {
    CheckedEffect.SHOPIFY_HOLD: (
        MismatchKind.HOLD_RELEASED,
        "the desk's hold on Shopify fulfillment order {ref} was released outside the desk "
        "(now {status}): it may ship",
    ),
    CheckedEffect.EASYPOST_LABEL: (
        MismatchKind.LABEL_VOIDED,
        "the label the desk bought on EasyPost shipment {ref} is no longer valid "
        "(refund {status}): the parcel has no postage",
    ),
    CheckedEffect.ZENDESK_COMMENT: (
        MismatchKind.COMMENT_MISSING,
        "the comment the desk posted on Zendesk ticket {ref} is no longer on the ticket",
    ),
}
