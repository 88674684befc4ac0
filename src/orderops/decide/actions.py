"""Proposing actions on a case, and what happens when one is finally approved.

A proposal is planned against the order (validated, exposure and effects worked out),
judged by the policy version the case is pinned to, and then either waits for people or
is approved on the spot by a named auto-approve rule. Final approval, by whatever path,
goes through ``finalize``: the outbox rows (idempotency keys ``{action_id}:{index}``,
fixed here), the action's status, the case's move and their records share one commit.

Money is judged on the order's remedy ledger (``decide.remedy_ledger``), read in the
same transaction: the policy sees what our actions already committed on the order in the
action's direction plus its own amount, refunds are checked against what is left after
every committed refund, and a second proposal of a money kind that already awaits
approval on the order is refused (``domain.exposure.refuse_if_pending``). A waiting case
still takes proposals of other kinds; each is judged with the waiting ones counted.

The case waits in ``awaiting_approval`` while any of its actions does. When the last
one is decided the case moves to ``approved`` if something in this round was approved,
else to ``escalated`` (back to the desk: everything was rejected or expired). From
``approved`` on, ``decide.execution`` follows the effects to ``resolved`` or ``failed``.

Every decision (a proposal, each approval or rejection, an automatic approval, an expiry)
freezes the facts it was taken on as evidence first (``evidence.snapshots.freeze_facts``)
and names that blob in its timeline entry and audit record (``data["snapshot"]``), so the
order as the decider saw it can be fetched again however it changes afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import record
from orderops.decide.action_context import context_for
from orderops.decide.execution import follow_through
from orderops.decide.holds import QueuedEffect, record_placed
from orderops.decide.policy_versions import ensure_pin, load_policy, pin_for
from orderops.decide.remedy_ledger import (
    NamedRemedyPending,
    RemedyExceedsOrder,
    earlier_remedies,
)
from orderops.domain.actions import (
    WAS_APPROVED,
    ActionContext,
    ActionKind,
    ActionStatus,
    InvalidAction,
    MoneyFlow,
    PlannedAction,
    catalogue,
    check_action_transition,
    parse_params,
    plan,
)
from orderops.domain.approval_policy import ApprovalPolicy, DecisionInputs, Evaluation, evaluate
from orderops.domain.cases import CaseStatus, check_transition
from orderops.domain.clock import Clock
from orderops.domain.decision_errors import EffectAlreadyQueued
from orderops.domain.errors import IllegalTransition, NotFound
from orderops.domain.exposure import RemedyPending, by_flow_json, refuse_if_pending
from orderops.domain.scopes import UNRESTRICTED, AccessScope
from orderops.evidence.snapshots import freeze_facts
from orderops.evidence.store import BlobStore
from orderops.storage.repositories import keyset
from orderops.storage.tables import Action, Approval, Case
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.writeback.outbox import DuplicateEffect, enqueue
from orderops.writeback.reship import KIND as RESHIP_SAGA
from orderops.writeback.reship import approved_reship_steps
from orderops.writeback.sagas import SagaStep, action_saga_key, first_message, start_saga
from orderops.writeback.substitution import KIND as SUBSTITUTION_SAGA
from orderops.writeback.substitution import approved_substitution_steps
from orderops.writeback.vendor_effects import vendor_effects
from orderops.writeback.vendor_facts import queued_effects, read_vendor_facts
from orderops.writeback.vendor_terms import shopify_order_id

PROPOSABLE: frozenset[CaseStatus] = frozenset(
    {
        CaseStatus.NEW,
        CaseStatus.TRIAGED,
        CaseStatus.ESCALATED,
        CaseStatus.REOPENED,
        CaseStatus.AWAITING_APPROVAL,
    }
)


@dataclass(frozen=True, kw_only=True)
class DecisionView:
    approver: str
    role: str | None
    decision: str
    reason: str | None
    at: datetime
    bulk_id: str | None


@dataclass(frozen=True, kw_only=True)
class ActionView:
    id: str
    case_id: str
    kind: str
    params: dict[str, Any]
    status: str
    proposed_by: str
    created_at: datetime
    policy_version: int
    evaluation: dict[str, Any] | None
    auto_rule: str | None
    expires_at: datetime | None
    decided_at: datetime | None
    decisions: tuple[DecisionView, ...]


def get_action(uow: UnitOfWork, action_id: str, *, lock: bool = False) -> Action:
    """The tenant's action; another tenant's id is simply not found."""
    query = select(Action).where(Action.tenant_id == uow.tenant_id, Action.id == action_id)
    action = uow.session.scalar(query.with_for_update() if lock else query)
    if action is None:
        raise NotFound(f"no action {action_id}")
    return action


def get_case(uow: UnitOfWork, case_id: str) -> Case:
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def decisions_of(uow: UnitOfWork, action_id: str) -> list[Approval]:
    return list(
        uow.session.scalars(
            select(Approval)
            .where(Approval.tenant_id == uow.tenant_id, Approval.action_id == action_id)
            .order_by(Approval.at, Approval.id)
        )
    )


def view(uow: UnitOfWork, action: Action) -> ActionView:
    decisions = tuple(
        DecisionView(
            approver=d.approver,
            role=d.role,
            decision=d.decision,
            reason=d.reason,
            at=d.at,
            bulk_id=d.bulk_id,
        )
        for d in decisions_of(uow, action.id)
    )
    return replace(bare_view(action), decisions=decisions)


def bare_view(action: Action) -> ActionView:
    """The action's view without its decisions: a page showing many actions reads their
    decisions in one query and puts them in (``console/case_view.py``)."""
    return ActionView(
        id=action.id,
        case_id=action.case_id,
        kind=action.kind,
        params=action.params,
        status=action.status,
        proposed_by=action.proposed_by,
        created_at=action.created_at,
        policy_version=action.policy_version,
        evaluation=action.evaluation,
        auto_rule=action.auto_rule,
        expires_at=action.expires_at,
        decided_at=action.decided_at,
        decisions=(),
    )


def propose(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    case_id: str,
    kind: str,
    params: dict[str, Any],
    principal: Principal,
    clock: Clock,
    evidence: BlobStore,
    note: str | None = None,
) -> ActionView:
    with UnitOfWork(sessions, tenant_id=tenant_id, scope=principal.scope) as uow:
        action = propose_in(
            uow,
            case_id=case_id,
            kind=kind,
            params=params,
            principal=principal,
            now=clock.now(),
            evidence=evidence,
            note=note,
        )
        uow.commit()
        return view(uow, action)


def propose_in(
    uow: UnitOfWork,
    *,
    case_id: str,
    kind: str,
    params: dict[str, Any],
    principal: Principal,
    now: datetime,
    evidence: BlobStore,
    note: str | None = None,
    customer_choice: bool = False,
    automatic: bool = True,
) -> Action:
    """``propose`` inside a unit of work the caller commits, so a customer's choice and the
    use of its link are one transaction (``workflow/choices.py``); ``customer_choice`` is
    what the approval policy's ``customer_choice`` bound sees; ``automatic=False`` (an AI
    agent's proposal) never takes an ``auto_approve`` rule: it waits for a person."""
    case = get_case(uow, case_id)
    if CaseStatus(case.status) not in PROPOSABLE:
        raise IllegalTransition(f"a case in status {case.status} takes no new proposals")
    context = context_for(uow, case)
    try:
        refuse_if_pending(parse_params(kind, params)[0], context)
    except RemedyPending as exc:
        raise NamedRemedyPending(
            exc.message, remedies=earlier_remedies(uow, context.order_ref)
        ) from exc
    planned = plan_on_ledger(uow, kind, params, context)
    snapshot = decision_snapshot(uow, case, evidence, at=now, actor=principal.identity)
    pin = ensure_pin(uow, case, now=now)
    policy = load_policy(uow, pin.policy_version)
    inputs = DecisionInputs(
        kind=planned.kind,
        amount_minor=planned.exposure_minor,
        order_total_minor=context.order_total_minor,
        fraud_score=context.fraud_score,
        customer_tier=context.customer_tier,
        overrides_policy=catalogue()[planned.kind].overrides_policy,
        committed_minor=context.committed_for(planned.kind),
        customer_choice=customer_choice,
    )
    refuse_beyond_order(uow, policy, inputs, context)
    evaluation = evaluate(policy, version=pin.policy_version, inputs=inputs, automatic=automatic)
    if case.status != CaseStatus.AWAITING_APPROVAL:
        pin.decision_round += 1
        move_case(
            uow,
            case,
            CaseStatus.AWAITING_APPROVAL,
            at=now,
            actor=principal.identity,
            summary=f"Awaiting a decision on {planned.kind}",
        )
    action = Action(
        tenant_id=uow.tenant_id,
        case_id=case.id,
        kind=planned.kind,
        params=planned.params_json,
        status=ActionStatus.PROPOSED,
        proposed_by=principal.identity,
        created_at=now,
        policy_version=pin.policy_version,
        evaluation={**evaluation.as_json(), "round": pin.decision_round},
        expires_at=None if evaluation.auto_approved else now + evaluation.expires_after,
    )
    uow.session.add(action)
    uow.session.flush()
    record(
        uow,
        case,
        at=now,
        actor=principal.identity,
        kind="action_proposed",
        summary=f"{principal.name} proposed {planned.kind}" + (f": {note}" if note else ""),
        data={
            "action_id": action.id,
            "kind": str(planned.kind),
            "params": planned.params_json,
            "exposure_minor": planned.exposure_minor,
            "committed_minor": inputs.committed_minor,
            "committed_on_order": by_flow_json(context.committed_minor),
            "policy_version": pin.policy_version,
            "required": [str(r) for r in evaluation.required],
            "approvals": evaluation.approvals,
            "snapshot": snapshot,
        },
    )
    if evaluation.auto_approved:
        action.auto_rule = evaluation.auto_rule
        approve_now(
            uow,
            case,
            action,
            context=context,
            at=now,
            actor=f"policy:{evaluation.auto_rule}",
            provenance=auto_provenance(evaluation),
            snapshot=snapshot,
        )
    else:
        action.status = check_action_transition(
            ActionStatus.PROPOSED, ActionStatus.AWAITING_APPROVAL
        )
    return action


def plan_on_ledger(
    uow: UnitOfWork,
    kind: str,
    params: dict[str, Any],
    context: ActionContext,
    *,
    excluding: str | None = None,
) -> PlannedAction:
    """Plan the action; when it fails only because earlier remedies on the order already
    took the money (it would plan on the order alone), refuse it as a 409 naming them."""
    try:
        return plan(kind, params, context)
    except InvalidAction as exc:
        alone = replace(
            context,
            payments=tuple(
                replace(p, committed_refund_minor=0, committed_hold_minor=0)
                for p in context.payments
            ),
        )
        try:
            plan(kind, params, alone)
        except InvalidAction:
            raise exc from None
        remedies = earlier_remedies(uow, context.order_ref, excluding=excluding)
        raise RemedyExceedsOrder(exc.message, remedies=remedies) from exc


def refuse_beyond_order(
    uow: UnitOfWork, policy: ApprovalPolicy, inputs: DecisionInputs, context: ActionContext
) -> None:
    """Paying out more than the order is worth (with what is already committed on it) is
    refused, unless the tenant's policy has a rule for exactly that: one whose
    ``share_over`` is 1.0, which then routes it to the tier it names."""
    if catalogue()[inputs.kind].money is not MoneyFlow.PAYOUT or inputs.share <= 1.0:
        return
    rules = policy.for_kind(inputs.kind).require
    if any((r.when.share_over or 0.0) >= 1.0 for r in rules):
        return
    raise RemedyExceedsOrder(
        f"{inputs.kind} of {inputs.amount_minor} would bring what our remedies pay out on "
        f"order {context.order_ref} to {inputs.exposure_minor}, more than the "
        f"{inputs.order_total_minor} it is worth, and the approval policy has no rule for "
        "remedies beyond the order (share_over: 1.0)",
        remedies=earlier_remedies(uow, context.order_ref),
    )


def auto_provenance(evaluation: Evaluation) -> dict[str, Any]:
    """What an automated approval records: the rule, the policy version, the inputs seen."""
    return {
        "automated": True,
        "rule": evaluation.auto_rule,
        "policy_version": evaluation.policy_version,
        "inputs": evaluation.inputs.as_json(),
    }


def decision_snapshot(
    uow: UnitOfWork, case: Case, evidence: BlobStore, *, at: datetime, actor: str
) -> str:
    """Freeze the facts a decision on ``case`` is taken on; the blob id its records name."""
    return freeze_facts(uow, case, store=evidence, now=at, actor=actor)


def approve_now(
    uow: UnitOfWork,
    case: Case,
    action: Action,
    *,
    context: ActionContext | None,
    at: datetime,
    actor: str,
    provenance: dict[str, Any],
    snapshot: str,
) -> list[str]:
    """Final approval: queue the effects, mark the action, move the case. One transaction.

    Effects are queued in the vendor's terms (``writeback.vendor_effects``) with the case
    and order named on the row, so a conflict finds its way back to the case. The action
    is planned again on the ledger without its own money, so a refund that no longer fits
    (others were committed since it was proposed) is refused here, not over-paid.
    """
    context = context or context_for(uow, case, excluding=action.id)
    planned = plan_on_ledger(uow, action.kind, action.params, context, excluding=action.id)
    action.status = check_action_transition(ActionStatus(action.status), ActionStatus.APPROVED)
    action.decided_at = at
    saga = action.kind in SAGA_KINDS
    # A reship's or substitution's steps depend on each other and are undone together:
    # one saga, not rows.
    queued = start_remedy_saga(uow, case, action, planned, context, at=at) if saga else []
    rows = [] if saga else queued_effects(uow, case, planned.effects, context)
    for index, effect in enumerate(rows):
        key = f"{action.id}:{index}"
        try:
            message_id = enqueue(
                uow,
                system=effect.system,
                operation=effect.operation,
                idempotency_key=key,
                payload={**effect.payload, "action_id": action.id, "case_id": case.id},
                now=at,
                action_id=action.id,
                case_id=case.id,
                order_ref=case.order_ref,
            )
        except DuplicateEffect as exc:
            raise EffectAlreadyQueued(exc.message) from exc
        queued.append(
            {
                "outbox_id": message_id,
                "system": str(effect.system),
                "operation": effect.operation,
                "idempotency_key": key,
            }
        )
    record(
        uow,
        case,
        at=at,
        actor=actor,
        kind="action_approved",
        summary=f"{action.kind} approved; "
        + ("its saga started" if saga else f"{len(queued)} effect(s) queued"),
        data={
            "action_id": action.id,
            "kind": action.kind,
            **provenance,
            "effects": queued,
            "snapshot": snapshot,
        },
    )
    placed = [QueuedEffect(q["outbox_id"], q["system"], q["operation"]) for q in queued]
    record_placed(uow, case, action, placed, owner=actor, at=at)
    settle_case(uow, case, at=at, actor=actor)
    return [q["outbox_id"] for q in queued]


SAGA_KINDS = frozenset({ActionKind.RESHIP, ActionKind.SUBSTITUTE})
"""Kinds whose approval starts a saga (``writeback.sagas``) instead of independent rows."""


def start_remedy_saga(
    uow: UnitOfWork,
    case: Case,
    action: Action,
    planned: PlannedAction,
    context: ActionContext,
    *,
    at: datetime,
) -> list[dict[str, Any]]:
    """A reship or substitution runs as a saga (``writeback.reship``,
    ``writeback.substitution``): its steps are queued one after another and undone when
    one fails. Started here, in the approving transaction; the saga's key is fixed by the
    action, so a second start is refused. Its first row, with the steps' names (and, for a
    substitution, the money it moves: a refund, or zero with what the retailer absorbs)."""
    facts = read_vendor_facts(uow, case)
    queued = vendor_effects(planned.effects, context, facts)
    ticket_id = facts.open_tickets[0] if facts.open_tickets else None
    stamp = {"action_id": action.id, "case_id": case.id}
    extra: dict[str, Any] = {}
    steps: list[SagaStep]
    if action.kind == ActionKind.SUBSTITUTE:
        kind = SUBSTITUTION_SAGA
        steps = approved_substitution_steps(queued, ticket_id=ticket_id, stamp=stamp)
        difference = int(action.params.get("price_difference_minor") or 0)
        captured = action.params.get("capture_minor")
        extra["adjust_payment"] = {
            "refund_minor": 0 if captured is not None else max(0, -difference),
            "captured_minor": captured,
            "absorbed_minor": max(0, difference),
        }
    else:
        kind = RESHIP_SAGA
        shopify = shopify_order_id(context)
        steps = approved_reship_steps(
            queued,
            shopify_order=shopify if isinstance(shopify, int) else None,
            ticket_id=ticket_id,
            stamp=stamp,
        )
    try:
        saga_id = start_saga(
            uow,
            case_id=case.id,
            kind=kind,
            steps=steps,
            now=at,
            key=action_saga_key(action.id),
            order_ref=case.order_ref,
            action_id=action.id,
        )
    except DuplicateEffect as exc:
        raise EffectAlreadyQueued(exc.message) from exc
    first = steps[0].effect
    message_id = first_message(uow, saga_id)
    return [
        {
            "outbox_id": message_id,
            "system": first.system,
            "operation": first.operation,
            "idempotency_key": f"{action_saga_key(action.id)}:1:{steps[0].name}",
            "saga_id": saga_id,
            "steps": [s.name for s in steps],
            **extra,
        }
    ]


def settle_case(uow: UnitOfWork, case: Case, *, at: datetime, actor: str) -> None:
    """Once nothing of the case awaits a decision, move it on (see the module docstring)."""
    if case.status != CaseStatus.AWAITING_APPROVAL:
        return
    actions = list(
        uow.session.scalars(
            select(Action).where(Action.tenant_id == uow.tenant_id, Action.case_id == case.id)
        )
    )
    if any(a.status == ActionStatus.AWAITING_APPROVAL for a in actions):
        return
    pin = pin_for(uow, case)
    current_round = pin.decision_round if pin is not None else 0
    approved = any(
        a.status in WAS_APPROVED and (a.evaluation or {}).get("round") == current_round
        for a in actions
    )
    if approved:
        move_case(uow, case, CaseStatus.APPROVED, at=at, actor=actor, summary="Actions approved")
        # Effects queued earlier in the round may already be under way or done.
        follow_through(uow, case, at=at)
    else:
        move_case(
            uow,
            case,
            CaseStatus.ESCALATED,
            at=at,
            actor=actor,
            summary="No action was approved; back to the desk",
        )


def move_case(
    uow: UnitOfWork, case: Case, target: CaseStatus, *, at: datetime, actor: str, summary: str
) -> None:
    case.status = check_transition(CaseStatus(case.status), target)
    case.updated_at = at
    record(uow, case, at=at, actor=actor, kind=str(target), summary=summary)


def list_for_case(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    case_id: str,
    scope: AccessScope = UNRESTRICTED,
) -> list[ActionView]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False, scope=scope) as uow:
        case = get_case(uow, case_id)
        actions = uow.session.scalars(
            select(Action)
            .where(Action.tenant_id == tenant_id, Action.case_id == case.id)
            .order_by(Action.created_at, Action.id)
        )
        return [view(uow, a) for a in actions]


def list_actions(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    status: ActionStatus | None = None,
    kind: ActionKind | None = None,
    limit: int = 100,
    scope: AccessScope = UNRESTRICTED,
    after: Sequence[object] | None = None,
) -> list[ActionView]:
    """The tenant's actions, oldest first (the approval queue when ``status`` is awaiting);
    with a scope, only those on cases in it; ``after`` (created_at, id): after that row."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False, scope=scope) as uow:
        query = select(Action).where(Action.tenant_id == tenant_id)
        if status is not None:
            query = query.where(Action.status == status)
        if kind is not None:
            query = query.where(Action.kind == kind)
        order = (keyset.SortPart(Action.created_at), keyset.SortPart(Action.id))
        if after is not None:
            query = query.where(keyset.after(order, after))
        rows = uow.session.scalars(query.order_by(*keyset.ordering(order)).limit(limit))
        return [view(uow, a) for a in rows]


def read_action(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    action_id: str,
    scope: AccessScope = UNRESTRICTED,
) -> ActionView:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False, scope=scope) as uow:
        return view(uow, get_action(uow, action_id))
