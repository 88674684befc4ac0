"""Holding each claim of a draft against the case: its facts, and what was approved.

A claim passes only when something backs it: an amount is one of the case's in the
order's currency (and, beside a refund or credit, that refund or credit); a percentage
is the approved refund or credit over the order total; an action said to be done is an
approved action or a fact (a parcel that shipped, a refund a payment shows); an action
promised is an approved action; a time tied to a promise is a day the case knows for it
(the carrier's estimated delivery). Each failure is a :class:`Problem` naming the claim.
"""

from __future__ import annotations

from collections.abc import Sequence

from orderops.recommend.claim_patterns import is_identifier
from orderops.recommend.claims import Action, Claim, ClaimKind, KnownFacts, Problem, Tense

_NAMES = {
    Action.REFUND: "a refund",
    Action.CREDIT: "a credit",
    Action.DISCOUNT: "a discount",
    Action.CANCEL: "a cancellation",
    Action.SHIP: "shipping",
    Action.RESHIP: "a replacement",
    Action.SUBSTITUTE: "a substitute",
    Action.UPGRADE: "a shipping upgrade",
    Action.DELIVER: "delivery",
}
_NOT_TIMED = frozenset({Action.DISCOUNT})


def check_claims(claims: Sequence[Claim], known: KnownFacts) -> tuple[Problem, ...]:
    problems: list[Problem] = []
    actions_in = _actions_by_sentence(claims)
    for claim in claims:
        problem = _check(claim, known, actions_in.get(claim.sentence, ()), claims)
        if problem is not None:
            problems.append(problem)
    return tuple(problems)


def _actions_by_sentence(claims: Sequence[Claim]) -> dict[int, tuple[Claim, ...]]:
    found: dict[int, list[Claim]] = {}
    for claim in claims:
        if claim.kind is ClaimKind.ACTION:
            found.setdefault(claim.sentence, []).append(claim)
    return {k: tuple(v) for k, v in found.items()}


def _check(
    claim: Claim, known: KnownFacts, actions: tuple[Claim, ...], claims: Sequence[Claim]
) -> Problem | None:
    text = claim.text
    match claim.kind:
        case ClaimKind.INSTRUCTION:
            return Problem("instruction", text, f"instruction-like text: {text!r}")
        case ClaimKind.LINK:
            return Problem("link", text, f"links are not allowed: {text}")
        case ClaimKind.EMAIL:
            if claim.value in known.emails:
                return None
            return Problem("email", text, f"email {text} is not this customer's")
        case ClaimKind.PHONE:
            if claim.value in {_digits(p) for p in known.phones} or is_identifier(text, known):
                return None
            return Problem("phone", text, f"phone number {text} is not this customer's")
        case ClaimKind.MONEY:
            return _check_money(claim, known, actions)
        case ClaimKind.PERCENT:
            if claim.percent is not None and any(
                abs(claim.percent - p) < 0.5 for p in known.percents
            ):
                return None
            return Problem(
                "percent", text, f"{text} is not a share of the order any approved action gives"
            )
        case ClaimKind.DATE:
            return _check_date(claim, known)
        case ClaimKind.ORDER | ClaimKind.SKU | ClaimKind.TRACKING:
            value = claim.value or text
            if is_identifier(value, known) or is_identifier(f"#{value}", known):
                return None
            name = str(claim.kind).replace("_", " ")
            return Problem(str(claim.kind), text, f"{name} {text} is not this case's")
        case ClaimKind.ACTION:
            return _check_action(claim, known, claims)
    return None


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _check_money(claim: Claim, known: KnownFacts, actions: tuple[Claim, ...]) -> Problem | None:
    text, minor = claim.text, claim.amount_minor
    if claim.currency and known.currency and claim.currency != known.currency:
        return Problem(
            "amount",
            text,
            f"amount {text} is in {claim.currency}; the order is in {known.currency}",
        )
    if minor is None or minor not in known.amounts_minor:
        return Problem("amount", text, f"amount {text} is not one of the case's")
    about = {a.action for a in actions}
    allowed: set[int] = set()
    if Action.REFUND in about:
        allowed |= known.refund_amounts
    if Action.CREDIT in about:
        allowed |= known.credit_amounts
    if allowed and minor not in allowed:
        what = " or ".join(
            n for a, n in ((Action.REFUND, "refund"), (Action.CREDIT, "credit")) if a in about
        )
        return Problem("amount", text, f"amount {text} is not the {what} the case gives")
    return None


def _check_date(claim: Claim, known: KnownFacts) -> Problem | None:
    if claim.relative:
        return None  # checked where it is tied to an action
    if claim.day is None:
        return Problem("date", claim.text, f"date {claim.text} is not a real date")
    if claim.day not in known.dates:
        return Problem("date", claim.text, f"date {claim.text} is not one of the case's")
    return None


def _check_action(claim: Claim, known: KnownFacts, claims: Sequence[Claim]) -> Problem | None:
    action, text = claim.action, claim.text
    assert action is not None
    name = _NAMES[action]
    done = claim.tense is Tense.DONE
    if action is Action.DISCOUNT:
        return Problem("promise", text, f"offers {name} ({text!r}); no approved action gives one")
    if action is Action.DELIVER and not done:
        backed = True  # "it will arrive" claims nothing until a day is named (below)
    elif action in {Action.SHIP, Action.DELIVER} and done:
        backed = action in known.happened
    else:
        backed = action in known.actions or (done and action in known.happened)
    if not backed:
        verb = "says" if done else "promises"
        return Problem(
            "promise", text, f"{verb} {name} ({text!r}) the case has not approved or seen"
        )
    if claim.whole:
        whole = action in known.whole_actions or (done and action in known.happened_whole)
        if not whole:
            return Problem(
                "promise",
                text,
                f"says {name} ({text!r}) covers the whole order; what is approved does not",
            )
    if action in _NOT_TIMED:
        return None
    for day in _days_of(claim, claims):
        if done and action in {Action.SHIP, Action.DELIVER}:
            if day.relative and (day.day is None or (action, day.day) not in known.happened_on):
                return Problem(
                    "date",
                    day.text,
                    f"says {name} happened {day.text!r}; the case shows no such day",
                )
        elif done:
            if day.relative and (day.day is None or day.day not in known.dates):
                return Problem(
                    "date", day.text, f"says {name} happened {day.text!r}; the case has no such day"
                )
        elif day.day is None or day.day not in known.promise_dates:
            return Problem(
                "date",
                day.text,
                f"promises {name} {day.text!r}; no day in the case backs that promise",
            )
    return None


def _days_of(action: Claim, claims: Sequence[Claim]) -> list[Claim]:
    """The days of ``action``'s sentence that stand nearer to it than to any other action:
    in "it shipped on June 2 and will arrive on Wednesday" each verb has its own day."""
    same = [c for c in claims if c.sentence == action.sentence]
    verbs = [c for c in same if c.kind is ClaimKind.ACTION]
    return [
        day
        for day in same
        if day.kind is ClaimKind.DATE
        and min(verbs, key=lambda v: (abs(v.at - day.at), v.at > day.at)) is action
    ]
