"""Re-deciding open cases under a newer approval policy: an explicit, recorded call.

A case stays on the version it was pinned to until someone asks for this. Each awaiting
action is judged again on the inputs it was first judged on (so only the policy differs),
and the case's timeline records, per action, the requirement before and after. An action
the new version auto-approves, or whose existing approvals now suffice, is approved here
with that provenance; one that now needs more simply keeps waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import record
from orderops.decide.actions import (
    approve_now,
    auto_provenance,
    decision_snapshot,
    decisions_of,
)
from orderops.decide.approvals import approvers_of, stored_evaluation
from orderops.decide.policy_versions import current_version, load_policy, version_info
from orderops.domain.actions import ActionKind, ActionStatus, catalogue
from orderops.domain.approval_policy import DecisionInputs, Evaluation, evaluate, progress
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.clock import Clock
from orderops.evidence.store import BlobStore
from orderops.storage.tables import Action, Case
from orderops.storage.tables.access import CasePolicyPin
from orderops.storage.uow import UnitOfWork


@dataclass(frozen=True, kw_only=True)
class CaseReevaluation:
    case_id: str
    from_version: int
    to_version: int
    actions: tuple[dict[str, Any], ...]


def reevaluate_open_cases(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    actor: str,
    clock: Clock,
    evidence: BlobStore,
    to_version: int | None = None,
    case_ids: list[str] | None = None,
) -> list[CaseReevaluation]:
    """Re-judge each open case's awaiting actions; an approval this brings about names a
    snapshot of the case's facts at re-evaluation, like any other decision."""
    now = clock.now()
    closed = [str(s) for s in CLOSED_STATUSES]
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        target = (
            current_version(uow) if to_version is None else version_info(uow, to_version).version
        )
        policy = load_policy(uow, target)
        query = (
            select(CasePolicyPin, Case)
            .join(Case, Case.id == CasePolicyPin.case_id)
            .where(
                CasePolicyPin.tenant_id == tenant_id,
                CasePolicyPin.policy_version != target,
                Case.status.not_in(closed),
            )
            .order_by(Case.opened_at, Case.id)
        )
        if case_ids is not None:
            query = query.where(Case.id.in_(case_ids))
        results: list[CaseReevaluation] = []
        for pin, case in uow.session.execute(query).all():
            before = pin.policy_version
            pin.policy_version = target
            outcomes = []
            awaiting = uow.session.scalars(
                select(Action)
                .where(
                    Action.tenant_id == tenant_id,
                    Action.case_id == case.id,
                    Action.status == ActionStatus.AWAITING_APPROVAL,
                )
                .order_by(Action.created_at, Action.id)
            ).all()
            for action in awaiting:
                old = stored_evaluation(action)
                inputs = DecisionInputs(
                    kind=old.inputs.kind,
                    amount_minor=old.inputs.amount_minor,
                    order_total_minor=old.inputs.order_total_minor,
                    fraud_score=old.inputs.fraud_score,
                    customer_tier=old.inputs.customer_tier,
                    overrides_policy=catalogue()[ActionKind(action.kind)].overrides_policy,
                    committed_minor=old.inputs.committed_minor,
                    customer_choice=old.inputs.customer_choice,
                )
                new = evaluate(policy, version=target, inputs=inputs)
                action.policy_version = target
                action.evaluation = {
                    **new.as_json(),
                    "round": (action.evaluation or {}).get("round"),
                }
                outcomes.append(
                    _apply(uow, case, action, old, new, actor=actor, at=now, evidence=evidence)
                )
            record(
                uow,
                case,
                at=now,
                actor=actor,
                kind="policy_reevaluated",
                summary=f"Re-evaluated under approval policy v{target} (was v{before})",
                data={"from_version": before, "to_version": target, "actions": outcomes},
            )
            results.append(
                CaseReevaluation(
                    case_id=case.id, from_version=before, to_version=target, actions=tuple(outcomes)
                )
            )
        uow.commit()
        return results


def _apply(
    uow: UnitOfWork,
    case: Case,
    action: Action,
    old: Evaluation,
    new: Evaluation,
    *,
    actor: str,
    at: Any,
    evidence: BlobStore,
) -> dict[str, Any]:
    approvers = approvers_of(decisions_of(uow, action.id))
    outcome = "awaiting_approval"
    deciding = new.auto_approved or progress(new, approvers).complete
    snapshot = decision_snapshot(uow, case, evidence, at=at, actor=actor) if deciding else None
    if new.auto_approved and snapshot is not None:
        action.auto_rule = new.auto_rule
        approve_now(
            uow,
            case,
            action,
            context=None,
            at=at,
            actor=f"policy:{new.auto_rule}",
            provenance=auto_provenance(new),
            snapshot=snapshot,
        )
        outcome = "auto_approved"
    elif snapshot is not None:
        approve_now(
            uow,
            case,
            action,
            context=None,
            at=at,
            actor=actor,
            provenance={
                "automated": True,
                "rule": "policy-reevaluation",
                "policy_version": new.policy_version,
                "approvers": [a.identity for a in approvers],
                "inputs": new.inputs.as_json(),
            },
            snapshot=snapshot,
        )
        outcome = "approved"
    return {
        "action_id": action.id,
        "before": _requirement(old),
        "after": _requirement(new),
        "outcome": outcome,
    }


def _requirement(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "policy_version": evaluation.policy_version,
        "auto_rule": evaluation.auto_rule,
        "required": [str(r) for r in evaluation.required],
        "approvals": evaluation.approvals,
        "matched_rules": list(evaluation.matched_rules),
    }
