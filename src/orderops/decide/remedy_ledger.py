"""Reading the remedy ledger of an order: our actions and their money effects, all cases.

The sums and the rules of what counts are pure (``domain/exposure.py``); this reads the
rows they are made of, inside the deciding transaction. The order's row is locked first
(FOR UPDATE on PostgreSQL; SQLite writers are serialised already), so two proposals or
approvals on one order are decided one after the other and each sees the other's money.

The money of an action still awaiting approval is read from its resolved parameters (a
refund names its payment and exact amount); once approved, from the outbox rows it
queued, which say in the vendor's terms which payment and how much. A saga (reship,
substitution) queues its rows one at a time, so the steps it has not queued yet are read
from its step records: a substitution's refund is reserved from its approval on. A saga
that ended compensated moved nothing that stays moved: its action stops counting, and its
refund is let go, in the transaction that records the last undo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from orderops.domain.actions import WAS_APPROVED, ActionKind, ActionStatus, catalogue
from orderops.domain.errors import Conflict, InvalidEvent
from orderops.domain.exposure import (
    CommittedAction,
    EffectState,
    Purpose,
    RemedyLedger,
    RemedyPending,
    Reservation,
)
from orderops.ingest.adapters.common import to_minor
from orderops.storage.tables import Action, Case, Order, OutboxMessage, Payment
from orderops.storage.tables.writeback import WritebackSaga, WritebackSagaStep
from orderops.storage.uow import UnitOfWork
from orderops.writeback.sagas import action_saga_key
from orderops.writeback.states import OutboxStatus, SagaStatus, StepState

COUNTED = WAS_APPROVED | {ActionStatus.PROPOSED, ActionStatus.AWAITING_APPROVAL}
"""Action statuses that may hold money; rejected and expired ones never do."""

STATE_OF: dict[OutboxStatus, EffectState] = {
    OutboxStatus.PENDING: EffectState.OPEN,
    OutboxStatus.IN_FLIGHT: EffectState.OPEN,
    OutboxStatus.UNCONFIRMED: EffectState.OPEN,
    OutboxStatus.CONFLICT: EffectState.OPEN,
    OutboxStatus.DELIVERED: EffectState.DELIVERED,
    OutboxStatus.FAILED: EffectState.DROPPED,
    OutboxStatus.CANCELLED: EffectState.DROPPED,
}
"""A conflict waits for a person whose usual answer is a retry, so its money stays held."""

HOLD_OPERATIONS = frozenset({("stripe", "capture"), ("stripe", "cancel_intent")})
REFUND_OPERATIONS = frozenset({("stripe", "refund"), ("shopify", "refund")})


@dataclass(frozen=True, kw_only=True)
class EarlierRemedy:
    """A money-moving action of ours still committed on the order, as a refusal names it."""

    action_id: str
    case_id: str
    kind: str
    status: str
    amount_minor: int

    def as_json(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "case_id": self.case_id,
            "kind": self.kind,
            "status": self.status,
            "amount_minor": self.amount_minor,
        }

    def describe(self) -> str:
        return (
            f"{self.kind} {self.action_id} on case {self.case_id} "
            f"({self.amount_minor}, {self.status})"
        )


class RemedyConflict(Conflict):
    """A remedy refused because of what earlier ones already committed on the order: the
    answer lists them (``remedies`` in the problem+json), so the desk sees whose money it is."""

    def __init__(self, message: str, *, remedies: Sequence[EarlierRemedy]) -> None:
        named = "; ".join(r.describe() for r in remedies) or "none found"
        super().__init__(f"{message}; earlier remedies on the order: {named}")
        self.extensions = {"remedies": [r.as_json() for r in remedies]}


class NamedRemedyPending(RemedyConflict, RemedyPending):
    code = "remedy-pending"


class RemedyExceedsOrder(RemedyConflict):
    """Would take more than was captured, or pay out more than the order is worth, once
    the earlier remedies are counted (and no policy rule routes it to a higher tier)."""

    code = "remedy-exceeds-order"


def earlier_remedies(
    uow: UnitOfWork, order_ref: str, *, excluding: str | None = None
) -> list[EarlierRemedy]:
    """The money-moving actions still committed on the order, oldest first."""
    ledger = read_ledger(uow, order_ref, payments=(), excluding=excluding)
    live = {a.action_id: a for a in ledger.actions if a.live and catalogue()[a.kind].moves_money}
    if not live:
        return []
    cases = {
        a.id: a.case_id
        for a in uow.session.scalars(
            select(Action).where(Action.tenant_id == uow.tenant_id, Action.id.in_(list(live)))
        )
    }
    return [
        EarlierRemedy(
            action_id=a.action_id,
            case_id=cases[a.action_id],
            kind=str(a.kind),
            status=str(a.status),
            amount_minor=a.judged_minor,
        )
        for a in live.values()
    ]


def lock_order(uow: UnitOfWork, order_id: str) -> Order | None:
    """The order's row, locked for the rest of the deciding transaction."""
    return uow.session.scalar(
        select(Order)
        .where(Order.tenant_id == uow.tenant_id, Order.id == order_id)
        .with_for_update()
    )


def read_ledger(
    uow: UnitOfWork, order_ref: str, *, payments: Iterable[Payment], excluding: str | None = None
) -> RemedyLedger:
    """Everything committed on ``order_ref``; ``excluding`` names the action being decided,
    whose own money must not count against itself."""
    actions = [
        a
        for a in uow.session.scalars(
            select(Action)
            .join(Case, Case.id == Action.case_id)
            .where(
                Action.tenant_id == uow.tenant_id,
                Case.tenant_id == uow.tenant_id,
                Case.order_ref == order_ref,
                Action.status.in_([str(s) for s in COUNTED]),
            )
            .order_by(Action.created_at, Action.id)
        )
        if a.id != excluding
    ]
    rows = [
        r
        for r in uow.session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.tenant_id == uow.tenant_id, OutboxMessage.order_ref == order_ref
            )
        )
        if r.action_id is None or r.action_id != excluding
    ]
    undone, unqueued = _saga_money(uow, actions)
    rows = [r for r in rows if r.action_id not in undone]
    states: dict[str, list[EffectState]] = {a: [EffectState.DROPPED] for a in undone}
    for row in rows:
        if row.action_id is not None:
            states.setdefault(row.action_id, []).append(STATE_OF[OutboxStatus(row.status)])
    by_ref = {p.payment_ref: p for p in payments}
    committed = tuple(
        CommittedAction(
            action_id=a.id,
            kind=ActionKind(a.kind),
            status=ActionStatus(a.status),
            judged_minor=_judged_minor(a),
            effect_states=tuple(states.get(a.id, ())),
        )
        for a in actions
    )
    reservations = [
        *(r for row in rows for r in _row_reservations(row, by_ref)),
        *(
            r
            for step in unqueued
            for r in _effect_reservations(
                step.system, step.operation, step.payload, EffectState.OPEN, by_ref
            )
        ),
        *(
            r
            for a, c in zip(actions, committed, strict=True)
            if c.awaiting
            for r in _pending_reservations(a, by_ref)
        ),
    ]
    return RemedyLedger(actions=committed, reservations=tuple(reservations))


def _saga_money(
    uow: UnitOfWork, actions: Sequence[Action]
) -> tuple[set[str], list[WritebackSagaStep]]:
    """The actions whose saga ended compensated, and the steps of running sagas that may
    still move money but are not queued yet (a saga undoing itself never queues them)."""
    decided = {action_saga_key(a.id): a.id for a in actions if a.status in WAS_APPROVED}
    if not decided:
        return set(), []
    sagas = list(
        uow.session.scalars(
            select(WritebackSaga).where(
                WritebackSaga.tenant_id == uow.tenant_id,
                WritebackSaga.saga_key.in_(list(decided)),
            )
        )
    )
    undone = {decided[s.saga_key] for s in sagas if s.status == str(SagaStatus.COMPENSATED)}
    going = [s.id for s in sagas if s.status == str(SagaStatus.RUNNING)]
    if not going:
        return undone, []
    unqueued = list(
        uow.session.scalars(
            select(WritebackSagaStep).where(
                WritebackSagaStep.tenant_id == uow.tenant_id,
                WritebackSagaStep.saga_id.in_(going),
                WritebackSagaStep.message_id.is_(None),
                WritebackSagaStep.state == str(StepState.PENDING),
            )
        )
    )
    return undone, unqueued


def _judged_minor(action: Action) -> int:
    """The action's own amount as its decision judged it (its recorded inputs)."""
    inputs = (action.evaluation or {}).get("inputs") or {}
    return int(inputs.get("amount_minor") or 0)


def _pending_reservations(action: Action, by_ref: Mapping[str, Payment]) -> list[Reservation]:
    """What an undecided action will take from a payment, from its resolved parameters."""
    params = action.params or {}
    payment = by_ref.get(str(params.get("payment_ref")))
    if payment is None:
        return []
    kind = ActionKind(action.kind)
    if kind is ActionKind.REFUND:
        amount = int(params.get("amount_minor") or 0)
        return [
            Reservation(
                payment_ref=payment.payment_ref, purpose=Purpose.REFUND, amount_minor=amount
            )
        ]
    whole_hold = [
        Reservation(
            payment_ref=payment.payment_ref,
            purpose=Purpose.HOLD,
            amount_minor=payment.amount_minor,
        )
    ]
    if kind is ActionKind.CAPTURE_PAYMENT:
        return whole_hold  # a capture of part of it releases the rest
    if kind is ActionKind.SUBSTITUTE:
        owed = -int(params.get("price_difference_minor") or 0)
        if owed <= 0:
            return []
        if params.get("capture_minor") is not None:
            return whole_hold  # captures the lower total, the rest released
        return [
            Reservation(payment_ref=payment.payment_ref, purpose=Purpose.REFUND, amount_minor=owed)
        ]
    if kind in {ActionKind.RELEASE_PAYMENT_HOLD, ActionKind.VOID_PAYMENT}:
        return whole_hold
    return []


def _row_reservations(row: OutboxMessage, by_ref: Mapping[str, Payment]) -> list[Reservation]:
    """The payment money one queued effect takes, in the vendor's terms it was queued in."""
    state = STATE_OF[OutboxStatus(row.status)]
    return _effect_reservations(row.system, row.operation, row.payload or {}, state, by_ref)


def _effect_reservations(
    system: str,
    operation_name: str,
    payload: Mapping[str, Any],
    state: EffectState,
    by_ref: Mapping[str, Payment],
) -> list[Reservation]:
    """The payment money one effect takes (queued, or a saga step still to be queued)."""
    operation = (system, operation_name)
    expect = payload.get("expect") or {}
    if operation == ("stripe", "refund"):
        ref = str(payload.get("payment_ref") or payload.get("payment_intent"))
        if ref not in by_ref:
            return []
        before = expect.get("refunded_minor")
        return [
            Reservation(
                payment_ref=ref,
                purpose=Purpose.REFUND,
                amount_minor=int(payload.get("amount_minor") or 0),
                state=state,
                refunded_before_minor=None if before is None else int(before),
            )
        ]
    if operation == ("shopify", "refund"):
        # Shopify refunds the order's Shopify-held money; the payload names no payment.
        held = [p for p in by_ref.values() if p.provider == "shopify"]
        if not held:
            return []
        currency = str(payload.get("currency") or held[0].currency)
        before = expect.get("refunded")
        try:
            amount = to_minor(payload.get("amount", "0"), currency, where="outbox refund amount")
            before_minor = None if before is None else to_minor(before, currency, where="expect")
        except InvalidEvent:
            return []
        return [
            Reservation(
                payment_ref=held[0].payment_ref,
                purpose=Purpose.REFUND,
                amount_minor=amount,
                state=state,
                refunded_before_minor=before_minor,
            )
        ]
    if operation in HOLD_OPERATIONS:
        ref = str(payload.get("payment_ref") or payload.get("payment_intent"))
        payment = by_ref.get(ref)
        if payment is None:
            return []
        # a capture takes the whole hold whatever it captures (the provider releases the
        # rest: Stripe's amount_capturable drops to 0); a release or void gives it all back
        return [
            Reservation(
                payment_ref=ref,
                purpose=Purpose.HOLD,
                amount_minor=payment.amount_minor,
                state=state,
            )
        ]
    return []
