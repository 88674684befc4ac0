"""The remedy ledger: money our actions have already committed on an order, summed purely.

An approval judged one action at a time lets a large remedy through as many small ones
(forty refunds of $25 on a $638 order, each under the auto-approve limit). So every
money-moving action is judged on what is already committed on the order *in the same
direction* (``MoneyFlow``) plus its own amount, and every refund is checked against what
is captured less what is already refunded or committed on its payment.

Committed means: awaiting approval, approved, queued in the outbox, in flight, delivered,
or stopped on a conflict a person must settle (an operator's retry may still send it). Not
committed: rejected, expired, or every effect failed for good or cancelled.

A delivered refund shows up twice if nothing is done about it: once as our outbox row,
and again in the payment's ``amount_refunded_minor`` once the provider's webhook arrives.
Each refund row records the refunded total its decision expected the provider to hold
(``expect``), and the vendor precheck refuses to write unless the provider holds exactly
that; so right after our refund the provider's total was ``before + amount``, and since
totals only grow, the reported total includes our refund exactly when it has reached
``before + amount``. Until then the row counts as committed; after, the report does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from orderops.domain.actions import (
    WAS_APPROVED,
    ActionContext,
    ActionKind,
    ActionStatus,
    MoneyFlow,
    catalogue,
)
from orderops.domain.errors import Conflict


class RemedyPending(Conflict):
    """The same kind of money-moving action already awaits approval on this order (409)."""

    code = "remedy-pending"


class EffectState(StrEnum):
    """Where an effect of ours stands, as far as money is concerned."""

    OPEN = "open"
    """Not concluded: pending, in flight, unconfirmed, or on a conflict a person decides."""
    DELIVERED = "delivered"
    DROPPED = "dropped"
    """Failed for good or cancelled: it will not move money unless someone starts it again."""


class Purpose(StrEnum):
    REFUND = "refund"
    """Money back from a captured payment."""
    HOLD = "hold"
    """Part of an authorisation taken by a capture, a release or a void."""


@dataclass(frozen=True, kw_only=True)
class Reservation:
    """Money of one payment that one action of ours (pending or queued) speaks for."""

    payment_ref: str
    purpose: Purpose
    amount_minor: int
    state: EffectState = EffectState.OPEN
    refunded_before_minor: int | None = None
    """For a refund effect: the provider's refunded total its decision expected."""

    def counts(self, reported_refunded_minor: int) -> bool:
        """Whether it is still committed, rather than dropped or already in the report."""
        if self.state is EffectState.DROPPED:
            return False
        if self.state is EffectState.OPEN or self.purpose is Purpose.HOLD:
            return True
        return not refund_reflected(
            reported_refunded_minor=reported_refunded_minor,
            refunded_before_minor=self.refunded_before_minor,
            amount_minor=self.amount_minor,
        )


def refund_reflected(
    *, reported_refunded_minor: int, refunded_before_minor: int | None, amount_minor: int
) -> bool:
    """Whether the provider's reported total already includes a refund we delivered.

    Without the expected total (a row from before it was recorded) the refund is taken as
    reported once the total reaches its amount at all: the smaller risk is counting a
    refund twice for a moment, never refunding more than was captured.
    """
    before = refunded_before_minor if refunded_before_minor is not None else 0
    return reported_refunded_minor >= before + amount_minor


@dataclass(frozen=True, kw_only=True)
class CommittedAction:
    """One of our actions on the order, with the money it was judged to move."""

    action_id: str
    kind: ActionKind
    status: ActionStatus
    judged_minor: int
    effect_states: tuple[EffectState, ...] = ()

    @property
    def awaiting(self) -> bool:
        return self.status in {ActionStatus.PROPOSED, ActionStatus.AWAITING_APPROVAL}

    @property
    def live(self) -> bool:
        """Still committed: undecided, or approved with an effect not dropped."""
        if self.awaiting:
            return True
        if self.status not in WAS_APPROVED:
            return False
        states = self.effect_states
        return not states or any(s is not EffectState.DROPPED for s in states)


@dataclass(frozen=True, kw_only=True)
class RemedyLedger:
    """Everything our actions have committed on one order, across all of its cases."""

    actions: tuple[CommittedAction, ...] = ()
    reservations: tuple[Reservation, ...] = ()

    def committed_minor(self) -> dict[MoneyFlow, int]:
        totals: dict[MoneyFlow, int] = {}
        for action in self.actions:
            flow = catalogue()[action.kind].money
            if flow is not None and action.live:
                totals[flow] = totals.get(flow, 0) + action.judged_minor
        return totals

    def committed_refund_minor(self, payment_ref: str, *, reported_refunded_minor: int) -> int:
        return sum(
            r.amount_minor
            for r in self._of(payment_ref, Purpose.REFUND)
            if r.counts(reported_refunded_minor)
        )

    def committed_hold_minor(self, payment_ref: str) -> int:
        return sum(r.amount_minor for r in self._of(payment_ref, Purpose.HOLD) if r.counts(0))

    def awaiting_approval(self) -> dict[ActionKind, str]:
        """Per money-moving kind, the earliest action of it still awaiting approval."""
        found: dict[ActionKind, str] = {}
        for action in self.actions:
            if action.awaiting and catalogue()[action.kind].moves_money:
                found.setdefault(action.kind, action.action_id)
        return found

    def _of(self, payment_ref: str, purpose: Purpose) -> Iterable[Reservation]:
        return (
            r for r in self.reservations if r.payment_ref == payment_ref and r.purpose is purpose
        )


def refuse_if_pending(kind: ActionKind, context: ActionContext) -> None:
    """A second money action of a kind already awaiting approval on the order is refused.

    While a refund waits for a person, another refund on the same order is almost always a
    duplicate or a remedy being split; the desk decides (or withdraws) the first one, and
    the next is then judged with it counted. Different kinds are accepted and judged with
    the pending ones counted in their direction.
    """
    pending = context.awaiting_approval.get(kind)
    if pending is not None and catalogue()[kind].moves_money:
        raise RemedyPending(
            f"a {kind} on order {context.order_ref} already awaits approval (action "
            f"{pending}); approve, reject or withdraw it before proposing another"
        )


def by_flow_json(committed: Mapping[MoneyFlow, int]) -> dict[str, int]:
    return {str(flow): amount for flow, amount in sorted(committed.items())}
