"""Money already committed on an order: what still counts, and how the policy judges it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orderops.domain.actions import (
    ActionContext,
    ActionKind,
    ActionStatus,
    InvalidAction,
    MoneyFlow,
    PaymentInfo,
    catalogue,
    plan,
)
from orderops.domain.approval_policy import (
    DEFAULT_POLICY,
    DecisionInputs,
    InvalidApprovalPolicy,
    evaluate,
    money_rule_problems,
    parse_policy,
    parse_stored_policy,
)
from orderops.domain.exposure import (
    CommittedAction,
    EffectState,
    Purpose,
    RemedyLedger,
    RemedyPending,
    Reservation,
    refuse_if_pending,
)


def paid(total: int, *, refunded: int = 0, committed: int = 0) -> ActionContext:
    return ActionContext(
        order_ref="o-1",
        currency="USD",
        order_total_minor=total,
        payments=(
            PaymentInfo(
                payment_ref="pi_1",
                provider="stripe",
                status="captured" if not refunded else "partially_refunded",
                amount_minor=total,
                refunded_minor=refunded,
                committed_refund_minor=committed,
            ),
        ),
        customer_id="cust-1",
    )


def judged(kind: ActionKind, amount: int, total: int, committed: int = 0) -> DecisionInputs:
    return DecisionInputs(
        kind=kind,
        amount_minor=amount,
        order_total_minor=total,
        fraud_score=None,
        customer_tier="standard",
        committed_minor=committed,
    )


# -- refundable ---------------------------------------------------------------------------


def test_refundable_is_captured_less_reported_refunds_less_committed_ones() -> None:
    context = paid(63_800, refunded=1000, committed=2500)

    (payment,) = context.payments
    full = plan("refund", {"reason": "late"}, context)

    assert payment.refundable_minor == 60_300
    assert full.params_json["amount_minor"] == 60_300


def test_an_over_refund_is_refused_naming_what_is_already_committed() -> None:
    with pytest.raises(InvalidAction) as refused:
        plan("refund", {"amount_minor": 2501, "reason": "late"}, paid(5000, committed=2500))

    assert "exceeds the 2500 still refundable" in refused.value.message
    assert "2500 already committed" in refused.value.message


def test_nothing_left_to_refund_says_our_commitments_took_it() -> None:
    with pytest.raises(InvalidAction) as refused:
        plan("refund", {"reason": "late"}, paid(5000, committed=5000))

    assert "no payment with money to refund" in refused.value.message
    assert "5000 already committed" in refused.value.message


def test_cancelling_with_refund_moves_what_is_still_refundable_and_without_it_nothing() -> None:
    context = paid(70_100, committed=100)

    with_refund = plan("cancel_order", {"reason": "customer"}, context)
    without = plan("cancel_order", {"reason": "customer", "refund": False}, context)

    assert with_refund.exposure_minor == 70_000
    assert without.exposure_minor == 0


def test_a_hold_already_taken_by_a_capture_in_progress_cannot_be_captured_again() -> None:
    context = ActionContext(
        order_ref="o-2",
        currency="USD",
        order_total_minor=4000,
        payments=(
            PaymentInfo(
                payment_ref="pi_h",
                provider="stripe",
                status="authorized",
                amount_minor=4000,
                committed_hold_minor=3000,
            ),
        ),
    )

    rest = plan("capture_payment", {}, context)
    with pytest.raises(InvalidAction, match="no capture, release or void in progress"):
        plan("capture_payment", {"amount_minor": 1001}, context)

    assert rest.params_json["amount_minor"] == 1000


# -- the ledger ---------------------------------------------------------------------------


def refund(state: EffectState, amount: int, before: int | None = 0) -> Reservation:
    return Reservation(
        payment_ref="pi_1",
        purpose=Purpose.REFUND,
        amount_minor=amount,
        state=state,
        refunded_before_minor=before,
    )


@pytest.mark.parametrize(
    ("reservation", "reported", "counts"),
    [
        (refund(EffectState.OPEN, 2500), 0, True),
        (refund(EffectState.DROPPED, 2500), 0, False),
        # delivered, the provider has not reported it yet: still ours to count
        (refund(EffectState.DELIVERED, 2500), 0, True),
        # delivered and reported (0 before + 2500): the report counts it, we do not
        (refund(EffectState.DELIVERED, 2500), 2500, False),
        # a refund made elsewhere raised the total, but not past ours: ours still counts
        (refund(EffectState.DELIVERED, 2500, before=1000), 3000, True),
        (refund(EffectState.DELIVERED, 2500, before=1000), 3500, False),
    ],
)
def test_a_refund_counts_until_the_provider_reports_it_and_never_twice(
    reservation: Reservation, reported: int, counts: bool
) -> None:
    ledger = RemedyLedger(reservations=(reservation,))

    committed = ledger.committed_refund_minor("pi_1", reported_refunded_minor=reported)

    assert committed == (reservation.amount_minor if counts else 0)


def test_committed_money_adds_up_by_direction_and_skips_what_cannot_move() -> None:
    def act(
        kind: ActionKind, status: ActionStatus, amount: int, *states: EffectState
    ) -> CommittedAction:
        return CommittedAction(
            action_id=f"a-{kind}-{status}-{amount}",
            kind=kind,
            status=status,
            judged_minor=amount,
            effect_states=states,
        )

    ledger = RemedyLedger(
        actions=(
            act(ActionKind.REFUND, ActionStatus.EXECUTED, 2500, EffectState.DELIVERED),
            act(ActionKind.REFUND, ActionStatus.APPROVED, 2500, EffectState.OPEN),
            act(ActionKind.STORE_CREDIT, ActionStatus.AWAITING_APPROVAL, 1000),
            act(ActionKind.CANCEL_ORDER, ActionStatus.FAILED, 9000, EffectState.DROPPED),
            act(ActionKind.REFUND, ActionStatus.REJECTED, 7000),
            act(ActionKind.CAPTURE_PAYMENT, ActionStatus.APPROVED, 4000, EffectState.OPEN),
            act(ActionKind.CONTACT_CUSTOMER, ActionStatus.EXECUTED, 0, EffectState.DELIVERED),
        )
    )

    assert ledger.committed_minor() == {MoneyFlow.PAYOUT: 6000, MoneyFlow.CAPTURE: 4000}
    assert ledger.awaiting_approval() == {
        ActionKind.STORE_CREDIT: "a-store_credit-awaiting_approval-1000"
    }


def test_a_second_money_action_of_a_kind_already_awaiting_approval_is_refused() -> None:
    context = ActionContext(
        order_ref="o-1",
        currency="USD",
        order_total_minor=5000,
        awaiting_approval={ActionKind.REFUND: "a-1", ActionKind.CONTACT_CUSTOMER: "a-2"},
    )

    with pytest.raises(RemedyPending, match="a-1"):
        refuse_if_pending(ActionKind.REFUND, context)
    refuse_if_pending(ActionKind.STORE_CREDIT, context)  # another kind: judged, not refused
    refuse_if_pending(ActionKind.CONTACT_CUSTOMER, context)  # moves no money

    assert RemedyPending.code == "remedy-pending"


# -- the policy judges the sum ------------------------------------------------------------


def test_split_refunds_stop_at_the_auto_approve_limit_and_climb_the_tiers() -> None:
    total, piece = 63_800, 2500
    outcomes = []
    for index in range(12):
        evaluation = evaluate(
            DEFAULT_POLICY,
            version=0,
            inputs=judged(ActionKind.REFUND, piece, total, committed=index * piece),
        )
        outcomes.append(evaluation.auto_rule or ",".join(evaluation.required))

    assert outcomes[0] == "small-low-risk"
    assert outcomes[1:10] == ["approver"] * 9  # up to 25_000 in all
    assert outcomes[10:] == ["finance", "finance"]  # 27_500 and 30_000


def test_a_701_dollar_cancel_with_refund_needs_finance_like_a_701_dollar_refund() -> None:
    context = paid(70_100)
    cancel = plan("cancel_order", {"reason": "customer"}, context)
    refunded = plan("refund", {"reason": "customer"}, context)

    def needs(kind: ActionKind, amount: int) -> tuple[str, ...]:
        inputs = judged(kind, amount, context.order_total_minor)
        return tuple(str(r) for r in evaluate(DEFAULT_POLICY, version=0, inputs=inputs).required)

    assert needs(ActionKind.CANCEL_ORDER, cancel.exposure_minor) == ("finance",)
    assert needs(ActionKind.REFUND, refunded.exposure_minor) == ("finance",)


@pytest.mark.parametrize(
    ("amount", "auto_rule", "required"),
    [(2000, "small-low-risk", ()), (20_000, None, ("approver",)), (70_100, None, ("finance",))],
)
def test_a_capture_is_judged_by_its_amount(
    amount: int, auto_rule: str | None, required: tuple[str, ...]
) -> None:
    inputs = judged(ActionKind.CAPTURE_PAYMENT, amount, 100_000)

    evaluation = evaluate(DEFAULT_POLICY, version=0, inputs=inputs)

    assert evaluation.auto_rule == auto_rule
    assert tuple(str(r) for r in evaluation.required) == required


def test_a_small_cancellation_is_never_approved_automatically() -> None:
    evaluation = evaluate(
        DEFAULT_POLICY, version=0, inputs=judged(ActionKind.CANCEL_ORDER, 0, 5000)
    )

    assert evaluation.auto_rule is None
    assert evaluation.required == ("approver",)


def test_the_decision_records_the_committed_money_and_the_exposure_it_judged() -> None:
    recorded = judged(ActionKind.REFUND, 2500, 10_000, committed=5000).as_json()

    assert (recorded["amount_minor"], recorded["committed_minor"]) == (2500, 5000)
    assert recorded["exposure_minor"] == 7500
    assert recorded["share"] == 0.75


# -- a policy must judge every money kind --------------------------------------------------


def without(kind: str) -> dict[str, Any]:
    body = copy.deepcopy(DEFAULT_POLICY.body())
    body["kinds"].pop(kind, None)
    return body


def test_the_built_in_policy_has_rules_for_every_money_kind() -> None:
    money = {kind for kind, spec in catalogue().items() if spec.moves_money}

    assert money_rule_problems(DEFAULT_POLICY) == []
    assert money <= set(DEFAULT_POLICY.kinds)
    assert ActionKind.CANCEL_ORDER in money
    assert ActionKind.CAPTURE_PAYMENT in money


@pytest.mark.parametrize("kind", ["cancel_order", "capture_payment", "refund"])
def test_a_policy_leaving_a_money_kind_to_the_default_is_refused(kind: str) -> None:
    with pytest.raises(InvalidApprovalPolicy) as refused:
        parse_policy(without(kind))

    assert f"kinds.{kind}" in refused.value.message
    assert "moves money" in refused.value.message


def test_a_money_kind_with_no_rules_or_an_uncapped_auto_approval_is_refused() -> None:
    body = copy.deepcopy(DEFAULT_POLICY.body())
    body["kinds"]["capture_payment"] = {"auto_approve": [], "require": []}
    body["kinds"]["store_credit"] = {"auto_approve": [{"name": "always"}]}

    with pytest.raises(InvalidApprovalPolicy) as refused:
        parse_policy(body)

    assert "kinds.capture_payment" in refused.value.message
    assert "kinds.store_credit.auto_approve[0] (always)" in refused.value.message
    assert "amount_at_most_minor" in refused.value.message


def test_a_stored_version_from_before_the_rule_is_read_with_the_built_in_money_rules() -> None:
    legacy = parse_stored_policy(without("cancel_order"))

    evaluation = evaluate(legacy, version=3, inputs=judged(ActionKind.CANCEL_ORDER, 70_100, 70_100))

    assert legacy.kinds[ActionKind.CANCEL_ORDER] == DEFAULT_POLICY.kinds[ActionKind.CANCEL_ORDER]
    assert evaluation.required == ("finance",)
