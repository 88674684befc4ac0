"""Bulk claim, assign and approve from a queue's checkboxes, one item at a time.

Each selected case goes through the same service call as the single button (its own unit
of work, its own audit rows), so a bulk change can do nothing a person could not do case
by case. One item refused (beyond the person's approval rights, changed meanwhile, already
decided) does not stop the others: the answer lists what was done and, for each refusal,
which item and why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from orderops.cases import assignment
from orderops.cases.conflicts import InvalidWorkRequest, load_case
from orderops.decide import approvals
from orderops.domain.actions import ActionStatus
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


@dataclass(frozen=True)
class Outcome:
    item: str
    """What the line is about: the order ref, and the action's kind for an approval."""
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
                label = case.order_ref
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
        waiting = [(a, f"{ref}: {kind}", c) for a, kind, c, ref in found]
        seen = {c for _, _, c, _ in found}
    for case_id in ids:
        if case_id not in seen:
            result.refused.append(Outcome(case_id, case_id, "nothing awaits approval"))
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
