"""Bulk claim, assign, approve and propose (a queue's or an incident's checkboxes), one
item at a time.

Each selected case goes through the same service call as the single button (its own unit
of work, its own audit rows), so a bulk change can do nothing a person could not do case
by case. One item refused (beyond the person's approval rights, changed meanwhile, already
decided) does not stop the others: the answer lists what was done and, for each refusal,
which item and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from orderops.cases import assignment
from orderops.cases.conflicts import InvalidWorkRequest, load_case
from orderops.console.action_forms import order_facts, read_posted
from orderops.console.order_names import order_names
from orderops.decide import actions, approvals
from orderops.decide.actions import get_case
from orderops.domain.actions import ActionStatus, InvalidAction
from orderops.domain.clock import Clock
from orderops.domain.errors import OrderOpsError
from orderops.evidence.store import BlobStore
from orderops.storage.tables import Action, Case
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

MAX_ITEMS = 100


class BulkOp(StrEnum):
    CLAIM = "claim"
    ASSIGN = "assign"
    APPROVE = "approve"
    PROPOSE = "propose"


@dataclass(frozen=True)
class Outcome:
    item: str
    """What the line is about: the order's name, and the action's kind for an approval."""
    case_id: str
    reason: str = ""


@dataclass
class BulkResult:
    op: BulkOp
    done: list[Outcome] = field(default_factory=list)
    refused: list[Outcome] = field(default_factory=list)


def selected(case_ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(i for i in case_ids if i))
    if not ids:
        raise InvalidWorkRequest("select at least one case")
    if len(ids) > MAX_ITEMS:
        raise InvalidWorkRequest(f"select at most {MAX_ITEMS} cases at a time")
    return ids


def change_cases(
    sessions: sessionmaker[Session],
    *,
    principal: Principal,
    case_ids: Sequence[str],
    op: BulkOp,
    change: Callable[[UnitOfWork, Case], None],
) -> BulkResult:
    """Claim or assign: the change applied to each case in its own transaction."""
    result = BulkResult(op)
    for case_id in selected(case_ids):
        label = case_id
        try:
            with UnitOfWork(sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
                case = load_case(uow, case_id, expected_version=None)
                label = order_names(uow, [case.order_ref])[case.order_ref]
                change(uow, case)
                uow.commit()
        except StaleDataError:
            result.refused.append(Outcome(label, case_id, "changed meanwhile; look again"))
        except OrderOpsError as exc:
            result.refused.append(Outcome(label, case_id, exc.message))
        else:
            result.done.append(Outcome(label, case_id))
    return result


def approve_cases(
    sessions: sessionmaker[Session],
    *,
    principal: Principal,
    case_ids: Sequence[str],
    clock: Clock,
    evidence: BlobStore,
) -> BulkResult:
    """Approve every action awaiting approval on the selected cases, each by ``approve``:
    the approval policy, maker-checker and remedy limits decide each one as they would
    for the single button."""
    result = BulkResult(BulkOp.APPROVE)
    waiting: list[tuple[str, str, str]] = []
    ids = selected(case_ids)
    with UnitOfWork(
        sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
    ) as uow:
        found = uow.session.execute(
            select(Action.id, Action.kind, Action.case_id, Case.order_ref)
            .join(Case, (Case.tenant_id == Action.tenant_id) & (Case.id == Action.case_id))
            .where(
                Action.tenant_id == principal.tenant_id,
                Action.case_id.in_(ids),
                Action.status == str(ActionStatus.AWAITING_APPROVAL),
            )
            .order_by(Action.case_id, Action.id)
        ).all()
        names = order_names(uow, [ref for _, _, _, ref in found])
        waiting = [(a, f"{names[ref]}: {kind}", c) for a, kind, c, ref in found]
        seen = {c for _, _, c, _ in found}
        idle = {
            c.id: c.order_ref
            for c in uow.session.scalars(
                select(Case).where(
                    Case.tenant_id == principal.tenant_id, Case.id.in_(set(ids) - seen)
                )
            )
        }
        idle_names = order_names(uow, idle.values())
    for case_id in ids:
        if case_id not in seen:
            label = idle_names.get(idle.get(case_id, ""), case_id)
            result.refused.append(Outcome(label, case_id, "nothing awaits approval"))
    for action_id, label, case_id in waiting:
        try:
            approvals.approve(
                sessions,
                tenant_id=principal.tenant_id,
                action_id=action_id,
                principal=principal,
                clock=clock,
                evidence=evidence,
            )
        except OrderOpsError as exc:
            result.refused.append(Outcome(label, case_id, exc.message))
        else:
            result.done.append(Outcome(label, case_id))
    return result


def claim_each(member: str, actor: str, clock: Clock) -> Callable[[UnitOfWork, Case], None]:
    return lambda uow, case: assignment.claim(
        uow, case, member=member, actor=actor, now=clock.now()
    )


def assign_each(assignee: str, actor: str, clock: Clock) -> Callable[[UnitOfWork, Case], None]:
    return lambda uow, case: assignment.assign(
        uow, case, assignee=assignee, actor=actor, now=clock.now()
    )


def propose_cases(
    sessions: sessionmaker[Session],
    *,
    principal: Principal,
    case_ids: Sequence[str],
    form: Mapping[str, str],
    clock: Clock,
    evidence: BlobStore,
) -> BulkResult:
    """Propose the same action to each case (an incident's): the posted form is read
    against each case's own order (its currency, its payments, the remedy ledger's room),
    then proposed by ``propose`` as the single form does, so the catalogue, the remedy
    limits and the approval policy (maker-checker included) judge each case apart."""
    result = BulkResult(BulkOp.PROPOSE)
    note = (form.get("note") or "").strip() or None
    for case_id in selected(case_ids):
        label = case_id
        try:
            with UnitOfWork(
                sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
            ) as uow:
                case = get_case(uow, case_id)
                label = order_names(uow, [case.order_ref])[case.order_ref]
                order = uow.commerce.order(case.order_id)
                if order is None:
                    raise InvalidAction(f"case {case_id} has no order to act on")
                posted = read_posted(form, order_facts(uow, order))
            proposed = actions.propose(
                sessions,
                tenant_id=principal.tenant_id,
                case_id=case_id,
                kind=str(posted.kind),
                params=posted.params,
                principal=principal,
                clock=clock,
                evidence=evidence,
                note=note,
            )
        except OrderOpsError as exc:
            result.refused.append(Outcome(label, case_id, exc.message))
        else:
            said = str(proposed.status).replace("_", " ")
            result.done.append(Outcome(f"{label}: {posted.kind} ({said})", case_id))
    return result
