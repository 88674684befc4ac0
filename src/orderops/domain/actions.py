"""The action catalogue: every resolution step a case can take, typed and validated.

Each kind has a parameter model (unknown fields refused, amounts in minor units) that
knows three things about itself, so the workflow never special-cases a kind:

- ``resolve``: the same request with defaults made explicit (a "full" refund becomes the
  exact amount), so what an approver sees is exactly what will be executed;
- ``exposure_minor``: the money it moves, which the approval policy judges together with
  what is already committed on the order in the same direction (``MoneyFlow``);
- ``effects``: the external writes it causes, as (system, operation, payload) triples that
  become outbox rows when the action is finally approved.

Everything here is pure. The order's current state comes in as an ``ActionContext``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from orderops.domain.errors import IllegalTransition, InvalidEvent
from orderops.domain.statuses import PaymentStatus


class InvalidAction(InvalidEvent):
    """The action's parameters are malformed or do not fit the order (422)."""

    code = "invalid-action"


class ActionKind(StrEnum):
    REFUND = "refund"
    STORE_CREDIT = "store_credit"
    RESHIP = "reship"
    SUBSTITUTE = "substitute"
    SHIPPING_UPGRADE = "shipping_upgrade"
    CANCEL_LINE = "cancel_line"
    CANCEL_ORDER = "cancel_order"
    CAPTURE_PAYMENT = "capture_payment"
    RELEASE_PAYMENT_HOLD = "release_payment_hold"
    VOID_PAYMENT = "void_payment"
    HOLD_FULFILLMENT = "hold_fulfillment"
    RELEASE_FULFILLMENT = "release_fulfillment"
    REQUEST_ADDRESS_CORRECTION = "request_address_correction"
    CONTACT_CUSTOMER = "contact_customer"
    SUPPORT_HANDOFF = "support_handoff"
    OVERRIDE = "override"
    ACCEPT_DELAY = "accept_delay"
    """The customer chose to wait (``domain/choices.py``): a note on the order, no money."""


class ActionStatus(StrEnum):
    PROPOSED = "proposed"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    EXECUTED = "executed"
    """Every effect it queued was delivered (written and read back)."""
    FAILED = "failed"
    """One of its effects failed or met a conflict; an operator's retry may still deliver it."""


WAS_APPROVED = frozenset({ActionStatus.APPROVED, ActionStatus.EXECUTED, ActionStatus.FAILED})
"""An action in any of these was approved by the people its policy asks for; delivery moves
it on from APPROVED, so "approved" in a query means all three, not the one status."""


ACTION_TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    ActionStatus.PROPOSED: frozenset({ActionStatus.AWAITING_APPROVAL, ActionStatus.APPROVED}),
    ActionStatus.AWAITING_APPROVAL: frozenset(
        {ActionStatus.APPROVED, ActionStatus.REJECTED, ActionStatus.EXPIRED}
    ),
    ActionStatus.APPROVED: frozenset({ActionStatus.EXECUTED, ActionStatus.FAILED}),
    ActionStatus.EXECUTED: frozenset(),
    ActionStatus.FAILED: frozenset({ActionStatus.EXECUTED}),
    ActionStatus.REJECTED: frozenset(),
    ActionStatus.EXPIRED: frozenset(),
}


class ActionNotPending(IllegalTransition):
    """The action was already decided (approved, rejected or expired)."""

    code = "action-not-pending"


def check_action_transition(current: ActionStatus, target: ActionStatus) -> ActionStatus:
    if target not in ACTION_TRANSITIONS[current]:
        raise ActionNotPending(f"an action cannot move from {current} to {target}")
    return target


class MoneyFlow(StrEnum):
    """Which way an action's money goes; exposure adds up only within one direction.

    A capture takes the customer's money, a refund gives it back: adding them would make
    every refund after a capture look large, so each direction keeps its own sum.
    """

    PAYOUT = "payout"
    """Money that leaves the retailer for the customer: refunds, credits, reships, costs."""
    CAPTURE = "capture"
    """Money taken from a hold on the customer's card."""
    HOLD_RELEASE = "hold_release"
    """A hold given back uncaptured (released or voided): revenue forgone."""


class System(StrEnum):
    """The external systems effects go to; the writeback worker maps each to a connector."""

    PAYMENTS = "payments"
    OMS = "oms"
    WMS = "wms"
    SHIPPING = "shipping"
    CRM = "crm"
    SUPPORT = "support"


@dataclass(frozen=True)
class Effect:
    system: System
    operation: str
    payload: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class LineInfo:
    sku: str
    quantity: int
    unit_price_minor: int


@dataclass(frozen=True, kw_only=True)
class PaymentInfo:
    payment_ref: str
    provider: str
    status: str
    amount_minor: int
    refunded_minor: int = 0
    """Refunded as the provider last reported it (webhooks): the vendors' expectations."""
    committed_refund_minor: int = 0
    """Refunds of ours awaiting approval, approved, queued, in flight, or delivered and not
    yet in ``refunded_minor`` (decide/remedy_ledger.py): spoken for, not yet reported."""
    committed_hold_minor: int = 0
    """Of a hold: what our pending or queued captures, releases and voids already take."""

    @property
    def captured(self) -> bool:
        return self.status in {PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED}

    @property
    def refundable_minor(self) -> int:
        """Captured, less what the provider refunded, less what we have committed."""
        if not self.captured:
            return 0
        return max(0, self.amount_minor - self.refunded_minor - self.committed_refund_minor)

    @property
    def on_hold(self) -> bool:
        return self.status == PaymentStatus.AUTHORIZED

    @property
    def hold_available_minor(self) -> int:
        """Of a hold, what no capture, release or void of ours has taken yet."""
        return max(0, self.amount_minor - self.committed_hold_minor) if self.on_hold else 0


@dataclass(frozen=True, kw_only=True)
class ActionContext:
    """What the catalogue needs to know about the case's order, read at decision time."""

    order_ref: str
    currency: str
    order_total_minor: int
    cancelled: bool = False
    lines: tuple[LineInfo, ...] = ()
    payments: tuple[PaymentInfo, ...] = ()
    tracking_numbers: tuple[str, ...] = ()
    customer_id: str | None = None
    customer_tier: str = "standard"
    fraud_score: float | None = None
    committed_minor: Mapping[MoneyFlow, int] = field(default_factory=dict)
    """Money already committed on the order by our actions (all of its cases), by direction:
    awaiting approval, approved, queued, in flight or delivered."""
    awaiting_approval: Mapping[ActionKind, str] = field(default_factory=dict)
    """Per kind, an action on the order that still awaits approval (its id)."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def committed_for(self, kind: ActionKind) -> int:
        """What is already committed in the direction ``kind`` moves money (0 if none)."""
        flow = catalogue()[kind].money
        return 0 if flow is None else self.committed_minor.get(flow, 0)

    def line(self, sku: str) -> LineInfo:
        for line in self.lines:
            if line.sku == sku:
                return line
        raise InvalidAction(f"order {self.order_ref} has no line with SKU {sku}")

    def payment(self, payment_ref: str | None, *, wanted: str) -> PaymentInfo:
        """The named payment, or the only one that fits (``wanted``: refundable or on_hold)."""
        fits = [
            p
            for p in self.payments
            if (p.refundable_minor > 0 if wanted == "refundable" else p.hold_available_minor > 0)
        ]
        if payment_ref is not None:
            fits = [p for p in fits if p.payment_ref == payment_ref]
        state = "with money to refund" if wanted == "refundable" else "on hold"
        if len(fits) > 1:
            raise InvalidAction(
                f"order {self.order_ref} has several payments {state}: name payment_ref"
            )
        if not fits:
            named = f"payment {payment_ref}" if payment_ref else "payment"
            raise InvalidAction(
                f"order {self.order_ref} has no {named} {state}{self._committed_note(wanted)}"
            )
        return fits[0]

    def _committed_note(self, wanted: str) -> str:
        """Why nothing is left, when our own commitments are the reason."""
        if wanted == "refundable":
            spoken = [p for p in self.payments if p.captured and p.committed_refund_minor]
            return "".join(
                f"; {p.payment_ref}: {p.amount_minor} captured, {p.refunded_minor} refunded, "
                f"{p.committed_refund_minor} already committed to refunds not yet reported"
                for p in spoken
            )
        spoken = [p for p in self.payments if p.on_hold and p.committed_hold_minor]
        return "".join(
            f"; {p.payment_ref}: its hold of {p.amount_minor} is already taken by "
            f"{p.committed_hold_minor} of captures, releases or voids in progress"
            for p in spoken
        )


class ActionParams(BaseModel, ABC):
    """Base of every kind's parameters: strict, immutable, self-describing."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    def resolve(self, context: ActionContext) -> Self:
        """Check the request against the order and make its defaults explicit."""
        if context.cancelled:
            raise InvalidAction(f"order {context.order_ref} is cancelled")
        return self

    @abstractmethod
    def exposure_minor(self, context: ActionContext) -> int:
        """The money this action moves, in the order's currency (0 when none moves)."""

    @abstractmethod
    def effects(self, context: ActionContext) -> list[Effect]:
        """The external writes, in the order they must happen."""


@dataclass(frozen=True)
class ActionSpec:
    kind: ActionKind
    params: type[ActionParams]
    title: str
    overrides_policy: bool = False
    """Only an override approver may approve it, and no rule ever approves it automatically."""
    money: MoneyFlow | None = None
    """The direction its money moves; a kind that moves money must have rules of its own in
    every approval policy, and is judged on what is committed plus its own amount."""

    @property
    def moves_money(self) -> bool:
        return self.money is not None


@dataclass(frozen=True)
class PlannedAction:
    kind: ActionKind
    params: ActionParams
    exposure_minor: int
    effects: tuple[Effect, ...]

    @property
    def params_json(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")


def catalogue() -> dict[ActionKind, ActionSpec]:
    from orderops.domain.action_kinds import SPECS

    return SPECS


def parse_params(kind: str, raw: Mapping[str, Any]) -> tuple[ActionKind, ActionParams]:
    """Validate a request's kind and parameters; every problem is named by its field."""
    try:
        action_kind = ActionKind(kind)
    except ValueError as exc:
        known = ", ".join(k.value for k in ActionKind)
        raise InvalidAction(f"unknown action kind {kind!r}; known kinds: {known}") from exc
    try:
        params = catalogue()[action_kind].params.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'params'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidAction(f"{action_kind} parameters are invalid: {problems}") from exc
    return action_kind, params


def plan(kind: str, raw: Mapping[str, Any], context: ActionContext) -> PlannedAction:
    """Parse, check against the order, and work out exposure and effects."""
    action_kind, params = parse_params(kind, raw)
    resolved = params.resolve(context)
    return PlannedAction(
        kind=action_kind,
        params=resolved,
        exposure_minor=resolved.exposure_minor(context),
        effects=tuple(resolved.effects(context)),
    )
