"""An action's status in a reviewer's words, from the action, its approvals and its outbox
rows: "waiting for a second approver (finance)", "approved, queued for Stripe",
"delivered to Stripe at 14:02", "failed: card declined".

"Approved" alone says too little: an approved action may still wait for a worker, be
retried, have met a conflict, or be done. Who is still needed comes from the policy's
own matching (``domain.approval_policy.progress``) over the decisions recorded so far, so
the page and the approval gate cannot disagree about it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from orderops.decide.actions import SAGA_KINDS, DecisionView
from orderops.decide.approvals import APPROVE, stored_evaluation
from orderops.domain.actions import ActionKind, ActionStatus
from orderops.domain.approval_policy import Approver, ApproverClass, progress
from orderops.domain.roles import Role
from orderops.storage.tables import Action, OutboxMessage
from orderops.writeback.states import OutboxStatus

SYSTEM_NAMES = {
    "stripe": "Stripe",
    "shopify": "Shopify",
    "easypost": "EasyPost",
    "zendesk": "Zendesk",
    "wms": "the warehouse",
    "crm": "the CRM",
    "payments": "payments",
    "oms": "the store",
    "shipping": "the carrier",
    "support": "support",
}
ORDINALS = ("first", "second", "third", "fourth", "fifth")
FAILED = {OutboxStatus.FAILED, OutboxStatus.CANCELLED}


def system_name(system: str) -> str:
    return SYSTEM_NAMES.get(system, system)


def status_text(
    action: Action,
    decisions: Sequence[DecisionView],
    effects: Sequence[OutboxMessage],
    *,
    people: dict[str, str],
) -> str:
    """One line a reviewer reads as the action's state."""
    status = ActionStatus(action.status)
    if status is ActionStatus.AWAITING_APPROVAL:
        return _waiting(action, decisions)
    if status is ActionStatus.PROPOSED:
        return "proposed, not yet judged"
    if status is ActionStatus.REJECTED:
        no = [d for d in decisions if d.decision != APPROVE]
        who = people.get(no[-1].approver, no[-1].approver) if no else "a reviewer"
        reason = f": {no[-1].reason}" if no and no[-1].reason else ""
        return f"rejected by {who}{reason}"
    if status is ActionStatus.EXPIRED:
        at = action.decided_at or action.expires_at
        return "expired without approval" + (f" at {_clock(at)}" if at else "")
    return _delivery(action, status, effects)


def _waiting(action: Action, decisions: Sequence[DecisionView]) -> str:
    evaluation = stored_evaluation(action)
    approvers = [
        Approver(d.approver, Role(d.role or Role.VIEWER))
        for d in decisions
        if d.decision == APPROVE
    ]
    done = progress(evaluation, approvers)
    given = done.distinct
    if done.remaining <= 0:
        return "approved, being queued"
    # "approver" is any desk approver: only the special classes are worth naming
    classes = ", ".join(str(m) for m in done.missing if m is not ApproverClass.APPROVER)
    whom = f" ({classes})" if classes else ""
    if done.remaining == 1:
        nth = ORDINALS[given] if given < len(ORDINALS) else f"{given + 1}th"
        who = f"a {nth} approver" if given else "an approver"
        text = f"waiting for {who}{whom}"
    else:
        text = f"waiting for {done.remaining} more approvers{whom}"
    return text


def _delivery(action: Action, status: ActionStatus, effects: Sequence[OutboxMessage]) -> str:
    if not effects:
        return {
            ActionStatus.APPROVED: "approved, nothing queued yet",
            ActionStatus.EXECUTED: "done",
            ActionStatus.FAILED: "failed",
        }.get(status, str(status))
    states = [OutboxStatus(m.status) for m in effects]
    failed = [m for m, s in zip(effects, states, strict=True) if s in FAILED]
    if failed:
        m = failed[0]
        reason = m.dead_letter_reason or m.last_error or f"{m.status} at {system_name(m.system)}"
        return f"failed: {reason[:200]}"
    conflict = [m for m, s in zip(effects, states, strict=True) if s is OutboxStatus.CONFLICT]
    if conflict:
        m = conflict[0]
        reason = f": {m.last_error[:160]}" if m.last_error else ""
        return f"needs review: {system_name(m.system)} disagreed{reason}"
    if all(s is OutboxStatus.DELIVERED for s in states):
        systems = _names(m.system for m in effects)
        last = max((m.completed_at for m in effects if m.completed_at), default=None)
        text = f"delivered to {systems}" + (f" at {_clock(last)}" if last else "")
        # a saga queues one step at a time: its action stays approved until the last
        saga = ActionKind(action.kind) in SAGA_KINDS and status is ActionStatus.APPROVED
        return f"approved, {text}; more steps to come" if saga else text
    waiting = [m for m, s in zip(effects, states, strict=True) if s is not OutboxStatus.DELIVERED]
    m = waiting[0]
    where = system_name(m.system)
    if OutboxStatus(m.status) is OutboxStatus.IN_FLIGHT:
        return f"approved, being delivered to {where} (attempt {m.attempts + 1})"
    if OutboxStatus(m.status) is OutboxStatus.UNCONFIRMED:
        return f"approved, checking with {where} whether it arrived"
    if m.attempts:
        reason = f": {m.last_error[:160]}" if m.last_error else ""
        return f"approved, retrying {where} after {m.attempts} attempt(s){reason}"
    return f"approved, queued for {where}"


def _names(systems: Iterable[str]) -> str:
    seen: list[str] = []
    for system in systems:
        name = system_name(system)
        if name not in seen:
            seen.append(name)
    return " and ".join(seen)


def _clock(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")
