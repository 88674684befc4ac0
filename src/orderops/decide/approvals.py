"""Approving, rejecting and expiring actions: the checker's side of maker-checker.

Every approval is checked by identity against the action's stored evaluation (the
policy version it was judged under): the proposer never approves, one person counts
once (the unique index on approvals enforces it again), and a role counts only where the
policy still needs it. The decision that completes the requirement calls
``actions.approve_now`` in the same transaction, so the outbox rows commit with it.

The action row is locked while deciding (FOR UPDATE on PostgreSQL; SQLite writers are
serialised), so two approvers racing cannot both complete it.

Each decision (approval, rejection, expiry) first freezes the case's facts as evidence in
the blob store passed in (``evidence``) and names the blob in its records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import record
from orderops.decide.actions import (
    ActionView,
    DecisionView,
    approve_now,
    decision_snapshot,
    decisions_of,
    get_action,
    get_case,
    settle_case,
    view,
)
from orderops.decide.approver_eligibility import check_action_approver
from orderops.domain.actions import (
    ActionKind,
    ActionNotPending,
    ActionStatus,
    InvalidAction,
    check_action_transition,
)
from orderops.domain.approval_policy import (
    ApprovalRefused,
    Approver,
    DecisionInputs,
    Evaluation,
    check_approval,
    progress,
    roles_for,
)
from orderops.domain.clock import Clock
from orderops.domain.decision_errors import (
    AlreadyDecided,
    ApprovalExpired,
    ApproverNotQualified,
    SelfApproval,
)
from orderops.domain.roles import Role
from orderops.evidence.store import BlobStore
from orderops.storage.base import new_id
from orderops.storage.tables import Action, Approval
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

APPROVE = "approve"
REJECT = "reject"
EXPIRY_RULE = "approval-expiry"
MAX_BULK = 500


def stored_evaluation(action: Action) -> Evaluation:
    data = action.evaluation or {}
    raw = data.get("inputs", {})
    inputs = DecisionInputs(
        kind=ActionKind(action.kind),
        amount_minor=int(raw.get("amount_minor", 0)),
        order_total_minor=int(raw.get("order_total_minor", 0)),
        fraud_score=raw.get("fraud_score"),
        customer_tier=str(raw.get("customer_tier", "standard")),
        committed_minor=int(raw.get("committed_minor", 0)),
        customer_choice=raw.get("customer_choice") is True,
    )
    return Evaluation.from_json(data, inputs)


def approvers_of(decisions: Sequence[Approval | DecisionView]) -> list[Approver]:
    return [
        Approver(d.approver, Role(d.role or Role.VIEWER))
        for d in decisions
        if d.decision == APPROVE
    ]


def approve(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    action_id: str,
    principal: Principal,
    clock: Clock,
    evidence: BlobStore,
    reason: str | None = None,
) -> ActionView:
    with UnitOfWork(sessions, tenant_id=tenant_id, scope=principal.scope) as uow:
        action = approve_in(
            uow, action_id, principal=principal, at=clock.now(), reason=reason, evidence=evidence
        )
        uow.commit()
        return view(uow, action)


def approve_many(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    action_ids: Sequence[str],
    principal: Principal,
    clock: Clock,
    evidence: BlobStore,
    reason: str | None = None,
) -> list[ActionView]:
    """One call, many actions of one kind (an incident): the same checks for each, one
    decision recorded per action, and all of them or none."""
    ids = list(dict.fromkeys(action_ids))
    if not ids or len(ids) > MAX_BULK:
        raise InvalidAction(f"a bulk approval takes 1 to {MAX_BULK} distinct action ids")
    now, bulk_id = clock.now(), new_id()
    with UnitOfWork(sessions, tenant_id=tenant_id, scope=principal.scope) as uow:
        kinds = {get_action(uow, action_id).kind for action_id in ids}
        if len(kinds) != 1:
            raise InvalidAction(f"a bulk approval needs actions of one kind, got {sorted(kinds)}")
        actions = [
            approve_in(
                uow,
                i,
                principal=principal,
                at=now,
                reason=reason,
                evidence=evidence,
                bulk_id=bulk_id,
            )
            for i in ids
        ]
        uow.audit.append(
            at=now,
            actor=principal.identity,
            action="actions.bulk_approved",
            entity_type="bulk_decision",
            entity_id=bulk_id,
            data={"kind": kinds.pop(), "action_ids": ids, "reason": reason},
        )
        uow.commit()
        return [view(uow, a) for a in actions]


def approve_in(
    uow: UnitOfWork,
    action_id: str,
    *,
    principal: Principal,
    at: datetime,
    reason: str | None,
    evidence: BlobStore,
    bulk_id: str | None = None,
) -> Action:
    """Record one approval in the caller's transaction; finalize if it completes the need."""
    action = _decidable(uow, action_id, at=at)
    evaluation = stored_evaluation(action)
    prior = approvers_of(decisions_of(uow, action.id))
    me = Approver(principal.identity, principal.role)
    refusal = check_approval(evaluation, proposer=action.proposed_by, prior=prior, approver=me)
    _raise_for(refusal, action, evaluation, prior)
    check_action_approver(uow, action, principal=principal, at=at)
    _decide(
        uow, action, principal=principal, decision=APPROVE, at=at, reason=reason, bulk_id=bulk_id
    )
    done = progress(evaluation, [*prior, me])
    case = get_case(uow, action.case_id)
    snapshot = decision_snapshot(uow, case, evidence, at=at, actor=principal.identity)
    people = [a.identity for a in prior] + [me.identity]
    if done.complete:
        approve_now(
            uow,
            case,
            action,
            context=None,
            at=at,
            actor=principal.identity,
            provenance={
                "automated": False,
                "approvers": people,
                "policy_version": evaluation.policy_version,
                "required": [str(r) for r in evaluation.required],
                "matched_rules": list(evaluation.matched_rules),
                "bulk_id": bulk_id,
            },
            snapshot=snapshot,
        )
    else:
        record(
            uow,
            case,
            at=at,
            actor=principal.identity,
            kind="approval_recorded",
            summary=f"{principal.name} approved {action.kind}; {done.remaining} more needed",
            data={
                "action_id": action.id,
                "approvers": people,
                "remaining": done.remaining,
                "missing": [str(m) for m in done.missing],
                "bulk_id": bulk_id,
                "snapshot": snapshot,
            },
        )
    return action


def reject(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    action_id: str,
    principal: Principal,
    clock: Clock,
    evidence: BlobStore,
    reason: str,
) -> ActionView:
    """Any one qualified rejection ends the action (a veto); the proposer may withdraw."""
    if len(reason.strip()) < 3:
        raise InvalidAction("a rejection needs a reason")
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id, scope=principal.scope) as uow:
        action = _decidable(uow, action_id, at=now)
        if any(d.approver == principal.identity for d in decisions_of(uow, action.id)):
            raise AlreadyDecided(f"you already decided on action {action.id}")
        _decide(uow, action, principal=principal, decision=REJECT, at=now, reason=reason)
        action.status = check_action_transition(ActionStatus(action.status), ActionStatus.REJECTED)
        action.decided_at = now
        case = get_case(uow, action.case_id)
        snapshot = decision_snapshot(uow, case, evidence, at=now, actor=principal.identity)
        record(
            uow,
            case,
            at=now,
            actor=principal.identity,
            kind="action_rejected",
            summary=f"{principal.name} rejected {action.kind}: {reason}",
            data={
                "action_id": action.id,
                "reason": reason,
                "policy_version": action.policy_version,
                "snapshot": snapshot,
            },
        )
        settle_case(uow, case, at=now, actor=principal.identity)
        uow.commit()
        return view(uow, action)


def expire_due(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    clock: Clock,
    evidence: BlobStore,
    limit: int = 500,
) -> list[str]:
    """Expire approval requests past their time; each records the rule and what it saw."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        due = list(
            uow.session.scalars(
                select(Action)
                .where(
                    Action.tenant_id == tenant_id,
                    Action.status == ActionStatus.AWAITING_APPROVAL,
                    Action.expires_at <= now,
                )
                .order_by(Action.expires_at, Action.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for action in due:
            action.status = check_action_transition(
                ActionStatus(action.status), ActionStatus.EXPIRED
            )
            action.decided_at = now
            case = get_case(uow, action.case_id)
            evaluation = stored_evaluation(action)
            snapshot = decision_snapshot(uow, case, evidence, at=now, actor=f"policy:{EXPIRY_RULE}")
            record(
                uow,
                case,
                at=now,
                actor=f"policy:{EXPIRY_RULE}",
                kind="action_expired",
                summary=f"{action.kind} expired undecided",
                data={
                    "action_id": action.id,
                    "automated": True,
                    "rule": EXPIRY_RULE,
                    "policy_version": action.policy_version,
                    "inputs": _expiry_inputs(uow, action, evaluation, now),
                    "snapshot": snapshot,
                },
            )
            settle_case(uow, case, at=now, actor=f"policy:{EXPIRY_RULE}")
        uow.commit()
        return [a.id for a in due]


def _expiry_inputs(
    uow: UnitOfWork, action: Action, evaluation: Evaluation, now: datetime
) -> dict[str, Any]:
    assert action.expires_at is not None
    approvers = approvers_of(decisions_of(uow, action.id))
    return {
        "expires_at": action.expires_at.isoformat(),
        "now": now.isoformat(),
        "expiry_hours": evaluation.expires_after.total_seconds() / 3600,
        "approvals_so_far": [a.identity for a in approvers],
        "remaining": progress(evaluation, approvers).remaining,
    }


def _decidable(uow: UnitOfWork, action_id: str, *, at: datetime) -> Action:
    action = get_action(uow, action_id, lock=True)
    if action.status != ActionStatus.AWAITING_APPROVAL:
        raise ActionNotPending(f"action {action.id} is {action.status}, not awaiting approval")
    if action.expires_at is not None and action.expires_at <= at:
        raise ApprovalExpired(
            f"the approval request for action {action.id} expired at "
            f"{action.expires_at.isoformat()}; propose it again"
        )
    return action


def _raise_for(
    refusal: ApprovalRefused | None, action: Action, evaluation: Evaluation, prior: list[Approver]
) -> None:
    if refusal is ApprovalRefused.SELF_APPROVAL:
        raise SelfApproval(f"you proposed action {action.id}; another person must approve it")
    if refusal is ApprovalRefused.ALREADY_DECIDED:
        raise AlreadyDecided(f"you already approved action {action.id}; it counts once")
    if refusal is ApprovalRefused.CANNOT_CONTRIBUTE:
        raise ApproverNotQualified(
            f"action {action.id} still needs approval by: {still_needed(evaluation, prior)}"
        )


def still_needed(evaluation: Evaluation, prior: Sequence[Approver]) -> str:
    """The approvals an action still lacks, with the roles that may give each."""
    missing = progress(evaluation, prior).missing
    return "; ".join(f"{m} ({', '.join(roles_for(m))})" for m in missing) or "another person"


def _decide(
    uow: UnitOfWork,
    action: Action,
    *,
    principal: Principal,
    decision: str,
    at: datetime,
    reason: str | None,
    bulk_id: str | None = None,
) -> None:
    uow.session.add(
        Approval(
            tenant_id=uow.tenant_id,
            action_id=action.id,
            approver=principal.identity,
            decision=decision,
            reason=reason,
            at=at,
            role=principal.role,
            policy_version=action.policy_version,
            bulk_id=bulk_id,
        )
    )
    uow.session.flush()
