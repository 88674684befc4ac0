"""Proposing an action and drafting a message for an agent; never approving either.

A proposal goes through ``decide.actions.propose_in``, the service the REST API and the
console call, in the principal's scoped unit of work and inside a savepoint, so it is
refused first for what the REST API refuses it (an unknown kind, bad parameters, a remedy
already waiting on the order, more than the order holds). Then the money it moves (as the
approval policy judged it) is held to the key's limits (``limits.py``, the key's limit row
locked). An agent's proposal never takes an ``auto_approve`` rule of the tenant's approval
policy (``propose_in(automatic=False)``): an agent may not cause an effect without a person
having looked, so what the policy would approve on its own waits for one approver like any
proposal (the check that it did is kept as a guard). A refusal rolls the savepoint back.
(The evidence snapshot a refused proposal froze stays in the content-addressed store,
unreferenced.) A proposal made is noted for the key's day.

A dry run runs the same steps in a unit of work that is never committed, with an evidence
store that keeps nothing, and then approves the proposal there too, to read off the effects
that approval would queue: so what it reports (the approval path: which approver classes
and roles, how many people, under which policy version and rules; and the writebacks that
would follow) is what the real path does, and it leaves no row behind. Refusals are the
real call's refusals. Drafting a message is the REST API's draft (``decide.communications
.draft``); a draft waits for a person to approve and send it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from orderops.agent_tools.calls import ToolDesk
from orderops.agent_tools.limits import KeyLimits, hold_to_limits, limits_of_key, note_proposal
from orderops.decide import communications
from orderops.decide.actions import SAGA_KINDS, approve_now, get_case, propose_in
from orderops.domain.actions import ActionKind, ActionStatus, catalogue
from orderops.domain.approval_policy import ApproverClass, roles_for
from orderops.domain.errors import OrderOpsError
from orderops.domain.roles import GRANTS, Permission
from orderops.evidence.store import StoredBlob
from orderops.storage.tables import Action, OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

DRY_RUN_ACTOR = "agent-dry-run"


class AutoApprovalRefused(OrderOpsError):
    """A guard: an agent's proposal came out approved without a person (it never should)."""

    code = "agent-auto-approval"


class KeepNothing:
    """A blob store that stores nothing: a dry run's evidence snapshot goes nowhere."""

    def put(self, tenant_id: str, data: bytes) -> StoredBlob:
        return StoredBlob(
            sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), existed=True
        )

    def get(self, tenant_id: str, sha256: str) -> bytes:
        raise KeyError(sha256)

    def exists(self, tenant_id: str, sha256: str) -> bool:
        return True


def propose_action(
    desk: ToolDesk,
    principal: Principal,
    *,
    case_id: str,
    kind: str,
    params: dict[str, Any],
    reason: str,
    dry_run: bool,
) -> dict[str, Any]:
    app = desk.app
    now = app.clock.now()
    note = f"proposed by an agent ({principal.name}): {reason}"
    with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
        case = get_case(uow, case_id)
        assert principal.key_id is not None, "a tool call is made with a key"
        limits = limits_of_key(uow, principal.key_id, at=now)
        savepoint = uow.session.begin_nested()
        action = propose_in(
            uow,
            case_id=case.id,
            kind=kind,
            params=params,
            principal=principal,
            now=now,
            evidence=KeepNothing() if dry_run else desk.evidence,
            note=note,
            automatic=False,
        )
        amount = _amount(action)
        try:
            hold_to_limits(limits, amount_minor=amount, kind=action.kind)
            _refuse_automatic(action)
        except OrderOpsError:
            savepoint.rollback()
            raise
        savepoint.commit()
        path = approval_path(action)
        if dry_run:
            would = _action_row(action, amount, with_id=False)  # before approving it below
            effects = _effects_on_approval(uow, action, now=now)
            return {
                "dry_run": True,
                "would_propose": would,
                "approval_path": path,
                "effects_on_approval": effects,
                "money_limits": _limits_after(limits, 0),
                "changed": "nothing",
            }
        note_proposal(
            uow,
            key_id=principal.key_id,
            action_id=action.id,
            case_id=case.id,
            kind=action.kind,
            amount_minor=amount,
            at=now,
        )
        uow.commit()
        return {
            "dry_run": False,
            "proposed": _action_row(action, amount, with_id=True),
            "approval_path": path,
            "money_limits": _limits_after(limits, amount),
            "next": "waits for people to approve or reject it in the console",
        }


def draft_message(
    desk: ToolDesk,
    principal: Principal,
    *,
    case_id: str,
    body: str,
    subject: str | None,
    channel: str,
    dry_run: bool,
) -> dict[str, Any]:
    app = desk.app
    with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
        case = get_case(uow, case_id)
        message = communications.draft(
            uow,
            case,
            channel=channel,
            subject=subject,
            body=body,
            actor=principal.identity,
            now=app.clock.now(),
        )
        row = {
            "id": None if dry_run else message.id,
            "case_id": case.id,
            "channel": channel,
            "status": str(message.status),
            "topic": str(message.topic),
            "subject": subject,
        }
        path = {
            "approve": sorted(str(r) for r in GRANTS[Permission.ACTIONS_APPROVE]),
            "then": "a person sends it from the console (one voice per customer applies)",
        }
        if dry_run:
            return {
                "dry_run": True,
                "would_draft": row,
                "approval_path": path,
                "changed": "nothing",
            }
        uow.commit()
        return {"dry_run": False, "drafted": row, "approval_path": path}


def _amount(action: Action) -> int:
    """The money the proposal moves, as the approval policy judged it (0 for kinds that
    move none)."""
    if not catalogue()[ActionKind(action.kind)].moves_money:
        return 0
    return int((action.evaluation or {}).get("inputs", {}).get("amount_minor", 0))


def _refuse_automatic(action: Action) -> None:
    if action.auto_rule is not None or action.status != ActionStatus.AWAITING_APPROVAL:
        raise AutoApprovalRefused(
            f"this {action.kind} came out approved without a person ({action.auto_rule!r}); "
            "an agent's proposal must wait for one, so it was not made"
        )


def approval_path(action: Action) -> dict[str, Any]:
    """Who must approve the proposal, under which policy version and rules, by when."""
    evaluation = action.evaluation or {}
    required = [ApproverClass(r) for r in evaluation.get("required", [])]
    return {
        "policy_version": action.policy_version,
        "matched_rules": evaluation.get("matched_rules", []),
        "approvals": evaluation.get("approvals", 1),
        "approver_classes": [str(r) for r in required],
        "roles": {str(r): [str(role) for role in roles_for(r)] for r in required},
        "expires_at": None if action.expires_at is None else action.expires_at.isoformat(),
    }


def _effects_on_approval(uow: UnitOfWork, action: Action, *, now: Any) -> list[dict[str, Any]]:
    """Approve the dry run's proposal in its own uncommitted unit of work and read what that
    queues; a refusal at approval is reported as the effect."""
    case = get_case(uow, action.case_id)
    try:
        queued = approve_now(
            uow,
            case,
            action,
            context=None,
            at=now,
            actor=DRY_RUN_ACTOR,
            provenance={"dry_run": True},
            snapshot="",
        )
    except OrderOpsError as exc:
        return [{"refused_at_approval": exc.code, "message": exc.message}]
    rows = uow.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.tenant_id == uow.tenant_id, OutboxMessage.id.in_(queued)
        )
    ).all()
    effects: list[dict[str, Any]] = [
        {"system": r.system, "operation": r.operation, "payload": r.payload} for r in rows
    ]
    if action.kind in SAGA_KINDS:
        effects.append({"saga": action.kind, "note": "later steps follow as each one is done"})
    return effects


def _action_row(action: Action, amount: int, *, with_id: bool) -> dict[str, Any]:
    row = {
        "case_id": action.case_id,
        "kind": action.kind,
        "params": action.params,
        "status": action.status,
        "amount_minor": amount,
    }
    return {"id": action.id, **row} if with_id else row


def _limits_after(limits: KeyLimits | None, amount: int) -> dict[str, Any] | None:
    if limits is None:
        return None
    body = limits.as_json()
    body["proposed_today_minor"] += amount
    body["left_today_minor"] = max(0, limits.per_day_minor - body["proposed_today_minor"])
    return body
