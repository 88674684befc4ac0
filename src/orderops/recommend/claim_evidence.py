"""What a case backs, in the claim checker's terms: the actions its recommendation gives
(the draft goes out only with them approved) and what its facts show has happened.

A reship backs "we are sending a replacement" and "it ships"; a cancelled order backs
"we have cancelled"; a parcel with a carrier backs "it is on its way". Nothing backs a
discount: no action gives one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from orderops.domain.actions import ActionKind
from orderops.recommend.claims import Action
from orderops.recommend.engine import Candidate, CandidateAction
from orderops.recommend.facts import CaseFacts

_SAYS: dict[ActionKind, frozenset[Action]] = {
    ActionKind.REFUND: frozenset({Action.REFUND}),
    ActionKind.STORE_CREDIT: frozenset({Action.CREDIT}),
    ActionKind.RESHIP: frozenset({Action.RESHIP, Action.SHIP}),
    ActionKind.SUBSTITUTE: frozenset({Action.SUBSTITUTE, Action.RESHIP, Action.SHIP}),
    ActionKind.SHIPPING_UPGRADE: frozenset({Action.UPGRADE}),
    ActionKind.CANCEL_LINE: frozenset({Action.CANCEL}),
    ActionKind.CANCEL_ORDER: frozenset({Action.CANCEL}),
}


@dataclass(frozen=True, kw_only=True)
class Backing:
    actions: frozenset[Action]
    whole_actions: frozenset[Action]
    happened: frozenset[Action]
    happened_whole: frozenset[Action]
    happened_on: frozenset[tuple[Action, date]]
    percents: frozenset[float]
    promise_dates: frozenset[date]


def _covers_order(action: CandidateAction, facts: CaseFacts) -> bool:
    lines = action.params.get("lines")
    if action.kind is ActionKind.CANCEL_ORDER:
        return True
    if action.kind is ActionKind.RESHIP:
        if lines in (None, "all"):
            return True
        named = {str(x.get("sku")) if isinstance(x, dict) else str(x) for x in lines or ()}
        return {line.sku for line in facts.lines} <= named
    if action.kind is ActionKind.REFUND:
        return action.cost.refund_minor >= max(1, min(facts.total_minor, facts.refundable_minor))
    return False


def backing(facts: CaseFacts, candidate: Candidate | None) -> Backing:
    """What drafts about this case and this candidate may claim beyond its values."""
    actions: set[Action] = set()
    whole: set[Action] = set()
    shares: list[int] = []
    for action in candidate.actions if candidate else ():
        says = _SAYS.get(action.kind, frozenset())
        cancels = action.kind in {ActionKind.CANCEL_LINE, ActionKind.CANCEL_ORDER}
        if cancels and action.cost.refund_minor > 0:
            says = says | {Action.REFUND}
        actions |= says
        if _covers_order(action, facts):
            whole |= says
        shares += [action.cost.refund_minor, action.cost.credit_minor]
        if action.kind is ActionKind.STORE_CREDIT:
            shares.append(action.exposure_minor)
    happened: set[Action] = set()
    happened_whole: set[Action] = set()
    if facts.shipments:
        happened.add(Action.SHIP)
        happened_whole.add(Action.SHIP)
    if facts.delivered_at is not None:
        happened.add(Action.DELIVER)
    if facts.delivered:
        happened_whole.add(Action.DELIVER)
    if facts.refunded_minor > 0 or facts.pending_refund_minor > 0:
        happened.add(Action.REFUND)
        shares.append(facts.refunded_minor)
    if facts.total_minor and facts.refunded_minor >= facts.total_minor:
        happened_whole.add(Action.REFUND)
    if facts.cancelled:
        happened |= {Action.CANCEL}
        happened_whole |= {Action.CANCEL}
    today = facts.now.date()
    return Backing(
        actions=frozenset(actions),
        whole_actions=frozenset(whole),
        happened=frozenset(happened),
        happened_whole=frozenset(happened_whole),
        happened_on=frozenset(
            [(Action.SHIP, s.shipped_at.date()) for s in facts.shipments if s.shipped_at]
            + [(Action.DELIVER, s.delivered_at.date()) for s in facts.shipments if s.delivered_at]
        ),
        percents=_percents(shares, facts.total_minor, Action.REFUND in whole),
        promise_dates=frozenset(
            s.estimated_delivery.date()
            for s in facts.shipments
            if s.estimated_delivery is not None and s.estimated_delivery.date() >= today
        ),
    )


def _percents(shares: Iterable[int], total: int, whole_refund: bool) -> frozenset[float]:
    found = {round(s * 100 / total, 1) for s in shares if s > 0 and total > 0}
    if whole_refund:
        found.add(100.0)
    return frozenset(found)
