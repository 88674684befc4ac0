"""Customer choices: which remedies a customer may pick for themselves, and what each is.

For a predicted delay, a stock-out or a needed substitution, the desk may let the customer
decide between remedies the tenant already accepts (``ChoicePolicy``, the
``customer_choices`` section of the fulfillment policy; ``DEFAULT_CHOICE_POLICY`` until a
tenant writes one). Each option is an ordinary action with its parameters fixed when the
offer is made (``build_choices``), so what the customer sees is exactly what will be
proposed, and the amounts come from the order's facts, never from the customer's request.
Whether the chosen action then needs a person is the approval policy's business.

Pure: the order's facts come in as ``OfferFacts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orderops.domain.actions import ActionKind, InvalidAction
from orderops.domain.cases import ExceptionType


class ChoiceOption(StrEnum):
    WAIT = "wait"
    SUBSTITUTE = "substitute"
    PARTIAL_REFUND = "partial_refund"
    CANCEL = "cancel"


OFFERABLE: frozenset[ExceptionType] = frozenset(
    {
        ExceptionType.SHIPMENT_DELAY_PREDICTED,
        ExceptionType.INVENTORY_SHORTFALL,
        ExceptionType.SUBSTITUTION_NEEDED,
    }
)
"""Case types where the customer's preference is the remedy: the order is late or short
through no fault the customer can fix, and every option is one the shop can carry out."""

KIND_OF: dict[ChoiceOption, ActionKind] = {
    ChoiceOption.WAIT: ActionKind.ACCEPT_DELAY,
    ChoiceOption.SUBSTITUTE: ActionKind.SUBSTITUTE,
    ChoiceOption.PARTIAL_REFUND: ActionKind.REFUND,
    ChoiceOption.CANCEL: ActionKind.CANCEL_ORDER,
}


class NoChoiceToOffer(InvalidAction):
    """The case's type is not offerable, or none of its options fits the order (422)."""

    code = "no-choice-to-offer"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChoiceRules(_Strict):
    options: Annotated[list[ChoiceOption], Field(min_length=1, max_length=4)]
    partial_refund_pct: Annotated[int, Field(ge=1, le=100)] = 10
    """The partial refund as a share of the order's total (then capped by what is still
    refundable after every remedy already committed on the order)."""
    link_hours: Annotated[int, Field(ge=1, le=24 * 30)] = 72

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if len(set(self.options)) != len(self.options):
            raise ValueError("options must not repeat")
        return self


class ChoicePolicy(_Strict):
    cases: dict[ExceptionType, ChoiceRules] = {}

    @model_validator(mode="after")
    def _offerable(self) -> Self:
        wrong = sorted(str(t) for t in self.cases if t not in OFFERABLE)
        if wrong:
            raise ValueError(
                f"customer choices are offered only for {', '.join(sorted(OFFERABLE))}; "
                f"not for {', '.join(wrong)}"
            )
        return self

    def rules_for(self, exception_type: str) -> ChoiceRules:
        try:
            rules = self.cases.get(ExceptionType(exception_type))
        except ValueError:
            rules = None
        if rules is None:
            raise NoChoiceToOffer(
                f"the tenant's policy offers the customer no choice on a {exception_type} case"
            )
        return rules


DEFAULT_CHOICE_POLICY = ChoicePolicy(
    cases={
        ExceptionType.SHIPMENT_DELAY_PREDICTED: ChoiceRules(
            options=[ChoiceOption.WAIT, ChoiceOption.PARTIAL_REFUND, ChoiceOption.CANCEL]
        ),
        ExceptionType.INVENTORY_SHORTFALL: ChoiceRules(
            options=[ChoiceOption.WAIT, ChoiceOption.SUBSTITUTE, ChoiceOption.CANCEL]
        ),
        ExceptionType.SUBSTITUTION_NEEDED: ChoiceRules(
            options=[ChoiceOption.SUBSTITUTE, ChoiceOption.PARTIAL_REFUND, ChoiceOption.CANCEL]
        ),
    }
)
"""What a tenant offers until its fulfillment policy has a ``customer_choices`` section."""


@dataclass(frozen=True, kw_only=True)
class SubstituteFact:
    from_sku: str
    to_sku: str
    quantity: int
    unit_difference_minor: int
    """The substitute's unit price less the original's."""


@dataclass(frozen=True, kw_only=True)
class OfferFacts:
    exception_type: str
    order_total_minor: int
    refundable_minor: int
    """Still refundable on the order's most refundable payment, after every remedy of
    ours already committed on the order (the remedy ledger)."""
    cancel_refund_minor: int
    """What cancelling gives back: everything still refundable on every payment."""
    substitute: SubstituteFact | None = None


@dataclass(frozen=True, kw_only=True)
class Choice:
    option: ChoiceOption
    kind: ActionKind
    params: dict[str, Any]
    amount_minor: int
    """What the customer gets back (refund, cancellation) or what a substitute costs more
    or less in total; shown on the page."""

    def as_json(self) -> dict[str, Any]:
        return {
            "option": str(self.option),
            "kind": str(self.kind),
            "params": self.params,
            "amount_minor": self.amount_minor,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Choice:
        return cls(
            option=ChoiceOption(data["option"]),
            kind=ActionKind(data["kind"]),
            params=dict(data["params"]),
            amount_minor=int(data["amount_minor"]),
        )


def build_choices(rules: ChoiceRules, facts: OfferFacts) -> tuple[Choice, ...]:
    """The options the rules allow that the order can take, in the rules' order: a
    substitute only when one is in stock, a partial refund only when money is left."""
    label = facts.exception_type.replace("_", " ")
    choices: list[Choice] = []
    for option in rules.options:
        choice = _choice(option, rules, facts, label)
        if choice is not None:
            choices.append(choice)
    if not choices:
        raise NoChoiceToOffer(
            f"none of the options the policy allows on a {facts.exception_type} case "
            f"({', '.join(rules.options)}) fits this order"
        )
    return tuple(choices)


def _choice(
    option: ChoiceOption, rules: ChoiceRules, facts: OfferFacts, label: str
) -> Choice | None:
    kind = KIND_OF[option]
    if option is ChoiceOption.WAIT:
        params: dict[str, Any] = {"note": f"The customer chose to wait ({label})"}
        return Choice(option=option, kind=kind, params=params, amount_minor=0)
    if option is ChoiceOption.SUBSTITUTE:
        sub = facts.substitute
        if sub is None:
            return None
        difference = sub.unit_difference_minor * sub.quantity
        params = {
            "from_sku": sub.from_sku,
            "to_sku": sub.to_sku,
            "quantity": sub.quantity,
            "price_difference_minor": difference,
        }
        return Choice(option=option, kind=kind, params=params, amount_minor=difference)
    if option is ChoiceOption.PARTIAL_REFUND:
        amount = min(
            facts.order_total_minor * rules.partial_refund_pct // 100, facts.refundable_minor
        )
        if amount <= 0:
            return None
        params = {
            "amount_minor": amount,
            "reason": f"The customer chose a partial refund ({label})",
        }
        return Choice(option=option, kind=kind, params=params, amount_minor=amount)
    params = {"reason": "customer", "note": f"The customer chose to cancel ({label})"}
    return Choice(option=option, kind=kind, params=params, amount_minor=facts.cancel_refund_minor)
