"""Who must approve an action: a tenant's versioned approval policy, evaluated purely.

Per action kind the policy lists *auto-approve rules* (all bounds hold: the named rule
approves, and its name is recorded) and *approval rules* (every rule whose bounds hold
adds its approver classes and its count of distinct approvers). Each approver class must
be covered by a different person, so "finance + fraud" needs two people even when one
admin holds both permissions; this is what makes two-person approval real.

Amounts are judged cumulatively: a rule's amount and share bounds see what our actions
have already committed on the order in the action's direction (``DecisionInputs``:
``committed_minor``, from the remedy ledger, ``domain/exposure.py``) plus the action's own
amount, so a remedy split into small pieces meets the same tier as the whole. Every kind
that moves money (``ActionSpec.money``) must be named with rules of its own, and its
auto-approve rules must cap the amount: a policy that would let a money kind fall through
to the plain default, or approve any sum of it automatically, is refused when stored.

Bounds are explicit about their edge: ``*_over`` is strictly greater, ``*_at_most`` is
less or equal. An unknown fraud score counts as 0: no signal is not a risk signal, and the
recorded inputs show it was unknown. Kinds that override policy never auto-approve.

A plain ``approver`` slot is absorbed when a stronger class (finance, fraud, override) is
required too, since holders of those may approve anyway; a rule that names two classes,
or asks for ``approvals: 2``, still needs that many distinct people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orderops.domain.actions import ActionKind, InvalidAction, catalogue
from orderops.domain.holds import DEFAULT_EXPIRY as DEFAULT_HOLD_EXPIRY
from orderops.domain.roles import GRANTS, Permission, Role


class InvalidApprovalPolicy(InvalidAction):
    code = "invalid-approval-policy"


class ApproverClass(StrEnum):
    APPROVER = "approver"
    FINANCE = "finance"
    FRAUD = "fraud"
    OVERRIDE = "override"


PERMISSION_OF: dict[ApproverClass, Permission] = {
    ApproverClass.APPROVER: Permission.ACTIONS_APPROVE,
    ApproverClass.FINANCE: Permission.ACTIONS_APPROVE_FINANCE,
    ApproverClass.FRAUD: Permission.ACTIONS_APPROVE_FRAUD,
    ApproverClass.OVERRIDE: Permission.ACTIONS_OVERRIDE,
}


def roles_for(approver: ApproverClass) -> list[Role]:
    return sorted(GRANTS[PERMISSION_OF[approver]])


def covers(role: Role, approver: ApproverClass) -> bool:
    return role in GRANTS[PERMISSION_OF[approver]]


Share = Annotated[float, Field(ge=0, le=1)]
Score = Annotated[float, Field(ge=0, le=1)]
Minor = Annotated[int, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bounds(_Strict):
    """Conditions that must all hold; an empty set of bounds always holds."""

    amount_over_minor: Minor | None = None
    amount_at_most_minor: Minor | None = None
    share_over: Share | None = None
    share_at_most: Share | None = None
    fraud_score_over: Score | None = None
    fraud_score_at_most: Score | None = None
    tiers: list[str] | None = None
    customer_choice: bool | None = None
    """True: only an action the customer chose through a choice link (``domain/choices.py``);
    False: never one. So "auto-approve a cancel the customer asked for, up to 50.00" does not
    approve the same cancel proposed by a person."""

    def hold(self, inputs: DecisionInputs) -> bool:
        amount, share, score = inputs.exposure_minor, inputs.share, inputs.fraud_score or 0.0
        checks = (
            self.amount_over_minor is None or amount > self.amount_over_minor,
            self.amount_at_most_minor is None or amount <= self.amount_at_most_minor,
            self.share_over is None or share > self.share_over,
            self.share_at_most is None or share <= self.share_at_most,
            self.fraud_score_over is None or score > self.fraud_score_over,
            self.fraud_score_at_most is None or score <= self.fraud_score_at_most,
            self.tiers is None or inputs.customer_tier in self.tiers,
            self.customer_choice is None or inputs.customer_choice == self.customer_choice,
        )
        return all(checks)


class AutoApproveRule(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    when: Bounds = Bounds()


class ApprovalRule(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    when: Bounds = Bounds()
    approvers: Annotated[list[ApproverClass], Field(min_length=1, max_length=5)] = [
        ApproverClass.APPROVER
    ]
    approvals: Annotated[int, Field(ge=1, le=5)] = 1
    """Distinct people needed in all (at least one per approver class)."""


class KindPolicy(_Strict):
    auto_approve: list[AutoApproveRule] = []
    require: list[ApprovalRule] = []


class ApprovalPolicy(_Strict):
    expiry_hours: Annotated[int, Field(ge=1, le=24 * 60)] = 48
    provenance_window_days: Annotated[int, Field(ge=0, le=365)] = 7
    """An identity the proposer created, re-roled, reset or keyed this recently cannot
    approve the proposer's actions (``decide/approver_eligibility.py``); 0 turns it off."""
    hold_expiry_hours: Annotated[int, Field(ge=1, le=24 * 30)] = int(
        DEFAULT_HOLD_EXPIRY / timedelta(hours=1)
    )
    """How long a hold an approval places lasts when nothing clears or releases it first
    (``decide/holds.py``): the hold takes it from the version its decision was judged by."""
    default: KindPolicy = KindPolicy()
    """Applies to every kind not named under ``kinds``."""
    kinds: dict[ActionKind, KindPolicy] = {}

    def for_kind(self, kind: ActionKind) -> KindPolicy:
        return self.kinds.get(kind, self.default)

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def parse_policy(body: dict[str, Any]) -> ApprovalPolicy:
    """A policy from outside (API, console, CLI): well formed, and judging money by amount."""
    policy = _validate(body)
    problems = money_rule_problems(policy)
    if problems:
        raise InvalidApprovalPolicy(f"approval policy is invalid: {'; '.join(problems)}")
    return policy


def parse_stored_policy(body: dict[str, Any]) -> ApprovalPolicy:
    """A version already stored, read to decide under.

    A version stored before money kinds needed rules of their own may lack some; those
    kinds are judged by the built-in rules for them (never by the plain default, which is
    how a cancel-with-refund escaped the finance tier), so a case pinned to it stays
    decidable and safe. Storing such a body again is still refused by ``parse_policy``.
    """
    policy = _validate(body)
    missing = {
        kind: DEFAULT_POLICY.kinds[kind]
        for kind in money_kinds()
        if kind not in policy.kinds and kind in DEFAULT_POLICY.kinds
    }
    return policy.model_copy(update={"kinds": {**policy.kinds, **missing}}) if missing else policy


def _validate(body: dict[str, Any]) -> ApprovalPolicy:
    try:
        return ApprovalPolicy.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidApprovalPolicy(f"approval policy is invalid: {problems}") from exc


def money_kinds() -> list[ActionKind]:
    return [kind for kind, spec in catalogue().items() if spec.moves_money]


def money_rule_problems(policy: ApprovalPolicy) -> list[str]:
    """Why the policy would let money through unjudged (empty when it judges every kind)."""
    problems: list[str] = []
    for kind in money_kinds():
        rules = policy.kinds.get(kind)
        if rules is None or not (rules.auto_approve or rules.require):
            problems.append(
                f"kinds.{kind}: {kind} moves money and needs rules of its own "
                "(auto_approve with an amount limit, or require); the default does not judge "
                "money"
            )
            continue
        for index, auto in enumerate(rules.auto_approve):
            if auto.when.amount_at_most_minor is None:
                problems.append(
                    f"kinds.{kind}.auto_approve[{index}] ({auto.name}): {kind} moves money, "
                    "so an auto-approve rule must set when.amount_at_most_minor"
                )
    return problems


@dataclass(frozen=True, kw_only=True)
class DecisionInputs:
    """Everything a rule may look at; recorded whole with every automated decision."""

    kind: ActionKind
    amount_minor: int
    """This action's own amount: the money it moves."""
    order_total_minor: int
    fraud_score: float | None
    customer_tier: str
    overrides_policy: bool = False
    committed_minor: int = 0
    """Already committed on the order in the same direction by other actions of ours."""
    customer_choice: bool = False
    """The customer picked this action through a choice link."""

    @property
    def exposure_minor(self) -> int:
        """What amount bounds judge: the committed money plus this action's."""
        return self.committed_minor + self.amount_minor

    @property
    def share(self) -> float:
        exposure = self.exposure_minor
        if self.order_total_minor <= 0:
            return 1.0 if exposure > 0 else 0.0
        return exposure / self.order_total_minor

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "amount_minor": self.amount_minor,
            "committed_minor": self.committed_minor,
            "exposure_minor": self.exposure_minor,
            "order_total_minor": self.order_total_minor,
            "share": round(self.share, 6),
            "fraud_score": self.fraud_score,
            "customer_tier": self.customer_tier,
            # only when set, so decisions recorded before choices read back the same
            **({"customer_choice": True} if self.customer_choice else {}),
        }


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """The policy's answer for one action: approved by a rule, or who must approve."""

    policy_version: int
    auto_rule: str | None
    required: tuple[ApproverClass, ...]
    approvals: int
    matched_rules: tuple[str, ...]
    expires_after: timedelta
    inputs: DecisionInputs

    @property
    def auto_approved(self) -> bool:
        return self.auto_rule is not None

    def as_json(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "auto_rule": self.auto_rule,
            "required": [str(r) for r in self.required],
            "approvals": self.approvals,
            "matched_rules": list(self.matched_rules),
            "expiry_hours": self.expires_after / timedelta(hours=1),
            "inputs": self.inputs.as_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], inputs: DecisionInputs) -> Evaluation:
        return cls(
            policy_version=int(data["policy_version"]),
            auto_rule=data["auto_rule"],
            required=tuple(ApproverClass(r) for r in data["required"]),
            approvals=int(data["approvals"]),
            matched_rules=tuple(data["matched_rules"]),
            expires_after=timedelta(hours=float(data["expiry_hours"])),
            inputs=inputs,
        )


def evaluate(
    policy: ApprovalPolicy, *, version: int, inputs: DecisionInputs, automatic: bool = True
) -> Evaluation:
    """Who must approve. ``automatic=False`` (an AI agent's proposal) skips the policy's
    ``auto_approve`` rules: the proposal waits for the people its ``require`` rules name,
    at least one approver."""
    rules = policy.for_kind(inputs.kind)
    expires = timedelta(hours=policy.expiry_hours)
    if automatic and not inputs.overrides_policy:
        for auto in rules.auto_approve:
            if auto.when.hold(inputs):
                return Evaluation(
                    policy_version=version,
                    auto_rule=auto.name,
                    required=(),
                    approvals=0,
                    matched_rules=(auto.name,),
                    expires_after=expires,
                    inputs=inputs,
                )
    matched = [rule for rule in rules.require if rule.when.hold(inputs)]
    counts: dict[ApproverClass, int] = {}
    for rule in matched:
        for approver in set(rule.approvers):
            counts[approver] = max(counts.get(approver, 0), rule.approvers.count(approver))
    if inputs.overrides_policy:
        counts[ApproverClass.OVERRIDE] = max(counts.get(ApproverClass.OVERRIDE, 0), 1)
    if len(counts) > 1 or not counts:
        # Every stronger class also holds plain approval, so a plain slot beside one adds
        # nothing; the people count below still honours rules that name both.
        counts.pop(ApproverClass.APPROVER, None)
    if not counts:
        counts[ApproverClass.APPROVER] = 1
    required = tuple(a for a in ApproverClass for _ in range(counts.get(a, 0)))
    approvals = max(
        [len(required), *(max(rule.approvals, len(rule.approvers)) for rule in matched)]
    )
    return Evaluation(
        policy_version=version,
        auto_rule=None,
        required=required,
        approvals=approvals,
        matched_rules=tuple(rule.name for rule in matched),
        expires_after=expires,
        inputs=inputs,
    )


@dataclass(frozen=True)
class Approver:
    identity: str
    role: Role


@dataclass(frozen=True)
class Progress:
    distinct: int
    missing: tuple[ApproverClass, ...]
    """Approver classes no distinct approver covers yet."""
    remaining: int
    """How many more distinct approvers are needed, at least."""

    @property
    def complete(self) -> bool:
        return self.remaining == 0


def progress(evaluation: Evaluation, approvers: Sequence[Approver]) -> Progress:
    """Match approvers to required classes, one person per class (largest matching)."""
    people: dict[str, Role] = {}
    for approver in approvers:
        people.setdefault(approver.identity, approver.role)
    best = _best_cover(list(evaluation.required), list(people.values()))
    missing = tuple(c for c, filled in zip(evaluation.required, best, strict=True) if not filled)
    remaining = max(len(missing), evaluation.approvals - len(people))
    return Progress(distinct=len(people), missing=missing, remaining=remaining)


def _best_cover(required: list[ApproverClass], roles: list[Role]) -> list[bool]:
    """Which required classes a largest one-to-one assignment of roles fills (tiny inputs)."""
    best: list[bool] = [False] * len(required)

    def search(index: int, free: list[Role], filled: list[bool]) -> None:
        nonlocal best
        if sum(filled) > sum(best):
            best = list(filled)
        if index == len(required):
            return
        for position, role in enumerate(free):
            if covers(role, required[index]):
                filled[index] = True
                search(index + 1, free[:position] + free[position + 1 :], filled)
                filled[index] = False
        search(index + 1, free, filled)

    search(0, roles, [False] * len(required))
    return best


class ApprovalRefused(StrEnum):
    SELF_APPROVAL = "self_approval"
    ALREADY_DECIDED = "already_decided"
    CANNOT_CONTRIBUTE = "cannot_contribute"


def check_approval(
    evaluation: Evaluation, *, proposer: str, prior: Sequence[Approver], approver: Approver
) -> ApprovalRefused | None:
    """Why this person may not approve now, or None. Maker-checker is by identity, not role."""
    if approver.identity == proposer:
        return ApprovalRefused.SELF_APPROVAL
    if any(p.identity == approver.identity for p in prior):
        return ApprovalRefused.ALREADY_DECIDED
    before = progress(evaluation, prior).remaining
    after = progress(evaluation, [*prior, approver]).remaining
    if after >= before:
        return ApprovalRefused.CANNOT_CONTRIBUTE
    return None


_MONEY_RULES = KindPolicy(
    auto_approve=[
        AutoApproveRule(
            name="small-low-risk",
            when=Bounds(amount_at_most_minor=2_500, share_at_most=0.5, fraud_score_at_most=0.3),
        )
    ],
    require=[
        ApprovalRule(name="desk-approval"),
        ApprovalRule(
            name="finance-over-250",
            when=Bounds(amount_over_minor=25_000),
            approvers=[ApproverClass.FINANCE],
        ),
        ApprovalRule(
            name="two-person-over-1000",
            when=Bounds(amount_over_minor=100_000),
            approvers=[ApproverClass.FINANCE],
            approvals=2,
        ),
        ApprovalRule(
            name="fraud-risk", when=Bounds(fraud_score_over=0.7), approvers=[ApproverClass.FRAUD]
        ),
    ],
)
_MONEY_NEVER_AUTO = _MONEY_RULES.model_copy(update={"auto_approve": []})
"""Cancelling an order is never automatic, whatever it refunds; tiers as for money."""
_ALWAYS = KindPolicy(auto_approve=[AutoApproveRule(name="low-risk-kind")])
_FRAUD_REVIEW = KindPolicy(
    require=[ApprovalRule(name="fraud-review", approvers=[ApproverClass.FRAUD])]
)

DEFAULT_POLICY = ApprovalPolicy(
    expiry_hours=48,
    default=KindPolicy(require=[ApprovalRule(name="desk-approval")]),
    kinds={
        ActionKind.REFUND: _MONEY_RULES,
        ActionKind.STORE_CREDIT: _MONEY_RULES,
        ActionKind.CANCEL_LINE: _MONEY_RULES,
        ActionKind.SHIPPING_UPGRADE: _MONEY_RULES,
        ActionKind.SUBSTITUTE: _MONEY_RULES,
        ActionKind.RESHIP: _MONEY_RULES,
        ActionKind.CAPTURE_PAYMENT: _MONEY_RULES,
        ActionKind.CANCEL_ORDER: _MONEY_NEVER_AUTO,
        ActionKind.VOID_PAYMENT: _FRAUD_REVIEW,
        ActionKind.RELEASE_PAYMENT_HOLD: _FRAUD_REVIEW,
        ActionKind.CONTACT_CUSTOMER: _ALWAYS,
        ActionKind.SUPPORT_HANDOFF: _ALWAYS,
        ActionKind.REQUEST_ADDRESS_CORRECTION: _ALWAYS,
        ActionKind.HOLD_FULFILLMENT: _ALWAYS,
    },
)
"""Version 0: what a tenant decides under until it stores a policy of its own."""


@dataclass(frozen=True)
class PolicyChange:
    path: str
    before: Any
    after: Any

    def as_json(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after}


def diff_bodies(before: Any, after: Any, path: str = "") -> list[PolicyChange]:
    """Every leaf that differs, by dotted path (lists compare item by item)."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[PolicyChange] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}.{key}" if path else str(key)
            changes += diff_bodies(before.get(key), after.get(key), sub)
        return changes
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            change
            for index, (old, new) in enumerate(zip(before, after, strict=True))
            for change in diff_bodies(old, new, f"{path}[{index}]")
        ]
    return [] if before == after else [PolicyChange(path, before, after)]
