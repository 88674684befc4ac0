"""The approval policy, evaluated purely: who must approve, who may, and what changed."""

from __future__ import annotations

import pytest

from orderops.domain.actions import ActionKind
from orderops.domain.approval_policy import (
    DEFAULT_POLICY,
    ApprovalPolicy,
    ApprovalRefused,
    ApprovalRule,
    Approver,
    ApproverClass,
    AutoApproveRule,
    Bounds,
    DecisionInputs,
    Evaluation,
    InvalidApprovalPolicy,
    KindPolicy,
    PolicyChange,
    check_approval,
    diff_bodies,
    evaluate,
    parse_policy,
    progress,
)
from orderops.domain.roles import Role


def inputs(
    kind: ActionKind = ActionKind.REFUND,
    amount: int = 1000,
    total: int = 5000,
    fraud: float | None = None,
    tier: str = "standard",
) -> DecisionInputs:
    return DecisionInputs(
        kind=kind,
        amount_minor=amount,
        order_total_minor=total,
        fraud_score=fraud,
        customer_tier=tier,
        overrides_policy=kind is ActionKind.OVERRIDE,
    )


@pytest.mark.parametrize(
    ("case", "auto_rule", "required", "approvals"),
    [
        (inputs(amount=2500, total=5000), "small-low-risk", (), 0),
        (inputs(amount=2501, total=10_000), None, ("approver",), 1),
        (inputs(amount=2000, total=3000), None, ("approver",), 1),  # share 0.67 > 0.5
        (inputs(amount=1000, fraud=0.3), "small-low-risk", (), 0),
        (inputs(amount=1000, fraud=0.31), None, ("approver",), 1),
        (inputs(amount=1000, fraud=0.71), None, ("fraud",), 1),
        (inputs(amount=25_000, total=100_000), None, ("approver",), 1),
        (inputs(amount=25_001, total=100_000), None, ("finance",), 1),
        (inputs(amount=100_001, total=200_000), None, ("finance",), 2),
        (inputs(amount=100_001, total=200_000, fraud=0.9), None, ("finance", "fraud"), 2),
        (inputs(ActionKind.CONTACT_CUSTOMER, amount=0), "low-risk-kind", (), 0),
        (inputs(ActionKind.CANCEL_ORDER, amount=5000), None, ("approver",), 1),
        (inputs(ActionKind.VOID_PAYMENT, amount=5000), None, ("fraud",), 1),
        (inputs(ActionKind.OVERRIDE, amount=0), None, ("override",), 1),
    ],
)
def test_the_default_policy_decides_by_amount_share_fraud_and_kind(
    case: DecisionInputs, auto_rule: str | None, required: tuple[str, ...], approvals: int
) -> None:
    result = evaluate(DEFAULT_POLICY, version=0, inputs=case)

    assert result.auto_rule == auto_rule
    assert tuple(str(r) for r in result.required) == required
    assert result.approvals == approvals


def test_an_override_never_auto_approves_even_when_a_rule_would() -> None:
    policy = ApprovalPolicy(default=KindPolicy(auto_approve=[AutoApproveRule(name="anything")]))

    result = evaluate(policy, version=3, inputs=inputs(ActionKind.OVERRIDE, amount=0))
    contact = evaluate(policy, version=3, inputs=inputs(ActionKind.CONTACT_CUSTOMER, amount=0))

    assert result.auto_rule is None
    assert result.required == (ApproverClass.OVERRIDE,)
    assert contact.auto_rule == "anything"
    assert contact.policy_version == 3


@pytest.mark.parametrize(
    ("case", "required"),
    [
        (inputs(amount=2500, total=5000), ("approver",)),  # small-low-risk would approve it
        (inputs(ActionKind.CONTACT_CUSTOMER, amount=0), ("approver",)),  # low-risk-kind
        (inputs(amount=1000, fraud=0.71), ("fraud",)),  # the require rules still apply
    ],
)
def test_without_automatic_approval_every_proposal_waits_for_its_people(
    case: DecisionInputs, required: tuple[str, ...]
) -> None:
    result = evaluate(DEFAULT_POLICY, version=0, inputs=case, automatic=False)

    assert result.auto_rule is None
    assert tuple(str(r) for r in result.required) == required
    assert result.approvals == 1


def test_tier_bounds_select_rules_by_customer_tier() -> None:
    policy = ApprovalPolicy(
        default=KindPolicy(
            auto_approve=[AutoApproveRule(name="vip-goodwill", when=Bounds(tiers=["vip"]))]
        )
    )

    assert evaluate(policy, version=1, inputs=inputs(tier="vip")).auto_rule == "vip-goodwill"
    assert evaluate(policy, version=1, inputs=inputs(tier="standard")).auto_rule is None


TWO_PERSON = evaluate(
    ApprovalPolicy(
        default=KindPolicy(
            require=[ApprovalRule(name="big", approvers=[ApproverClass.FINANCE], approvals=2)]
        )
    ),
    version=1,
    inputs=inputs(),
)
FINANCE_AND_FRAUD = evaluate(
    ApprovalPolicy(
        default=KindPolicy(
            require=[
                ApprovalRule(name="both", approvers=[ApproverClass.FINANCE, ApproverClass.FRAUD])
            ]
        )
    ),
    version=1,
    inputs=inputs(),
)


@pytest.mark.parametrize(
    ("evaluation", "roles", "remaining"),
    [
        (TWO_PERSON, [], 2),
        (TWO_PERSON, [Role.APPROVER], 1),
        (TWO_PERSON, [Role.APPROVER, Role.APPROVER], 1),  # still no finance approver
        (TWO_PERSON, [Role.APPROVER, Role.FINANCE_APPROVER], 0),
        (TWO_PERSON, [Role.ADMIN], 1),
        (TWO_PERSON, [Role.ADMIN, Role.FRAUD_ANALYST], 0),
        (FINANCE_AND_FRAUD, [Role.ADMIN], 1),  # one person covers one class only
        (FINANCE_AND_FRAUD, [Role.ADMIN, Role.FINANCE_APPROVER], 0),
        (FINANCE_AND_FRAUD, [Role.FINANCE_APPROVER, Role.APPROVER], 1),
    ],
)
def test_progress_needs_one_distinct_person_per_required_class(
    evaluation: Evaluation, roles: list[Role], remaining: int
) -> None:
    people = [Approver(f"user:{i}", role) for i, role in enumerate(roles)]

    assert progress(evaluation, people).remaining == remaining


def test_the_same_person_twice_counts_once() -> None:
    twice = [Approver("user:1", Role.FINANCE_APPROVER), Approver("user:1", Role.FINANCE_APPROVER)]

    assert progress(TWO_PERSON, twice).distinct == 1
    assert progress(TWO_PERSON, twice).remaining == 1


@pytest.mark.parametrize(
    ("prior", "who", "refusal"),
    [
        ([], Approver("user:maker", Role.ADMIN), ApprovalRefused.SELF_APPROVAL),
        (
            [Approver("user:a", Role.FINANCE_APPROVER)],
            Approver("user:a", Role.FINANCE_APPROVER),
            ApprovalRefused.ALREADY_DECIDED,
        ),
        (
            [Approver("user:a", Role.APPROVER)],
            Approver("user:b", Role.APPROVER),
            ApprovalRefused.CANNOT_CONTRIBUTE,
        ),
        ([Approver("user:a", Role.APPROVER)], Approver("user:b", Role.FINANCE_APPROVER), None),
        ([], Approver("user:b", Role.APPROVER), None),
    ],
)
def test_check_approval_applies_maker_checker_by_identity(
    prior: list[Approver], who: Approver, refusal: ApprovalRefused | None
) -> None:
    assert check_approval(TWO_PERSON, proposer="user:maker", prior=prior, approver=who) == refusal


def test_a_policy_body_round_trips_and_bad_ones_name_each_problem() -> None:
    body = DEFAULT_POLICY.body()

    assert parse_policy(body) == DEFAULT_POLICY
    with pytest.raises(InvalidApprovalPolicy) as error:
        parse_policy({"expiry_hours": 0, "kinds": {"refund": {"require": [{"approvals": 9}]}}})
    message = error.value.message
    assert "expiry_hours" in message
    assert "kinds.refund.require.0.name" in message
    assert "kinds.refund.require.0.approvals" in message


def test_the_diff_names_each_changed_leaf_by_path() -> None:
    before = {"expiry_hours": 48, "kinds": {"refund": {"auto_approve": [{"name": "a"}]}}}
    after = {
        "expiry_hours": 24,
        "kinds": {"refund": {"auto_approve": [{"name": "b"}]}, "reship": {}},
    }

    assert diff_bodies(before, after) == [
        PolicyChange("expiry_hours", 48, 24),
        PolicyChange("kinds.refund.auto_approve[0].name", "a", "b"),
        PolicyChange("kinds.reship", None, {}),
    ]
    assert diff_bodies(after, after) == []
