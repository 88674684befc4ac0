"""Following an approved case through the delivery of its effects: executing, resolved, failed.

The case moves ``approved -> executing`` when the writeback worker first claims an outbox
message of one of its approved actions, not when the message is queued: queuing happens
in the approving transaction itself, so "approved" would never be seen, and "executing"
should mean a vendor is being written to. An action is ``executed`` once every message it
queued is delivered, and ``failed`` as soon as one of them fails or meets a conflict.
When every action approved in the case's current decision round is executed, the case is
``resolved``, naming them; when one has failed, the case moves to ``failed`` with the
reason, which puts it back in front of a reviewer. A message an operator retries and that
is then delivered turns its action executed and a still-failed case resolved.

A reship runs as a saga (``writeback.sagas``): its rows are queued one at a time, so "every
row delivered" says nothing until the saga ends. Its action follows the saga instead:
executed when the saga completed, failed naming the step, why, and what was undone when
it was compensated (or failed undoing).

Every move goes through ``check_transition`` and ``record`` in the worker's transaction
(the claim's or the settled message's), so the move and its records commit together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.cases.cases import record
from orderops.cases.sla import cancel_timers
from orderops.decide.policy_versions import pin_for
from orderops.domain.actions import WAS_APPROVED, ActionStatus, check_action_transition
from orderops.domain.cases import CaseStatus, check_transition
from orderops.storage.tables import Action, Case, OutboxMessage
from orderops.storage.tables.writeback import WritebackSaga
from orderops.storage.uow import UnitOfWork
from orderops.writeback.sagas import failure_summary, saga_of_action
from orderops.writeback.states import OutboxStatus, SagaStatus

ACTOR = "writeback"
UNSUCCESSFUL = frozenset({str(OutboxStatus.FAILED), str(OutboxStatus.CONFLICT)})
ENDED_BADLY = frozenset({str(SagaStatus.COMPENSATED), str(SagaStatus.FAILED)})


def on_message_claimed(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
    """The claim hook: the first claimed effect of an approved case starts its execution."""
    case = _case_of(uow, message)
    if case is not None and case.status == CaseStatus.APPROVED:
        follow_through(uow, case, at=now)


def on_action_message_settled(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
    """The settled hook: conclude the message's action, then move its case along."""
    if message.action_id is None:
        return
    action = uow.session.scalar(
        select(Action).where(Action.tenant_id == uow.tenant_id, Action.id == message.action_id)
    )
    if action is None:
        return
    case = uow.cases.get(action.case_id)
    if case is None:
        return
    _conclude(uow, case, action, now=now)
    follow_through(uow, case, at=now)


def follow_through(uow: UnitOfWork, case: Case, *, at: datetime) -> None:
    """Move an approved, executing or failed case as far as its actions' effects allow."""
    if case.status not in (CaseStatus.APPROVED, CaseStatus.EXECUTING, CaseStatus.FAILED):
        return
    actions = _round_actions(uow, case)
    if not actions:
        return
    messages = _messages(uow, [a.id for a in actions])
    if case.status == CaseStatus.APPROVED:
        if not any(_started(m) for m in messages):
            return
        kinds = ", ".join(a.kind for a in actions)
        _move(uow, case, CaseStatus.EXECUTING, at=at, reason=f"executing {kinds}")
    failed = [a for a in actions if a.status == ActionStatus.FAILED]
    if failed and case.status == CaseStatus.EXECUTING:
        reason = "; ".join(_failure(uow, a, messages) for a in failed)
        _move(uow, case, CaseStatus.FAILED, at=at, reason=reason)
    elif all(a.status == ActionStatus.EXECUTED for a in actions):
        done = ", ".join(f"{a.kind} {a.id}" for a in actions)
        _move(uow, case, CaseStatus.RESOLVED, at=at, reason=f"executed {done}")
        case.closed_at, case.close_reason = at, f"executed {done}"
        cancel_timers(uow, case, now=at)


def _conclude(uow: UnitOfWork, case: Case, action: Action, *, now: datetime) -> None:
    """Executed when every message is delivered; failed when one is failed or conflicted."""
    if action.status not in (ActionStatus.APPROVED, ActionStatus.FAILED):
        return
    messages = _messages(uow, [action.id])
    if not messages:
        return
    saga = saga_of_action(uow, action.id)
    if saga is not None:
        _conclude_saga(uow, case, action, saga, messages, now=now)
        return
    unsuccessful = [m for m in messages if m.status in UNSUCCESSFUL]
    if unsuccessful and action.status == ActionStatus.APPROVED:
        _failed(uow, case, action, messages, now=now, outbox_ids=[m.id for m in unsuccessful])
    elif all(m.status == str(OutboxStatus.DELIVERED) for m in messages):
        effects = [
            {"outbox_id": m.id, "system": m.system, "operation": m.operation, "result": m.result}
            for m in messages
        ]
        summary = f"{action.kind} executed: {len(messages)} effect(s) delivered"
        _executed(uow, case, action, summary, now=now, effects=effects)


def _conclude_saga(
    uow: UnitOfWork,
    case: Case,
    action: Action,
    saga: WritebackSaga,
    messages: Sequence[OutboxMessage],
    *,
    now: datetime,
) -> None:
    if saga.status == str(SagaStatus.COMPLETED):
        effects = [
            {"outbox_id": m.id, "system": m.system, "operation": m.operation} for m in messages
        ]
        summary = f"{action.kind} executed: every step of its saga delivered"
        _executed(uow, case, action, summary, now=now, saga_id=saga.id, effects=effects)
    elif saga.status in ENDED_BADLY and action.status == ActionStatus.APPROVED:
        _failed(uow, case, action, messages, now=now, saga_id=saga.id, saga_status=saga.status)


def _executed(
    uow: UnitOfWork, case: Case, action: Action, summary: str, *, now: datetime, **data: Any
) -> None:
    action.status = check_action_transition(ActionStatus(action.status), ActionStatus.EXECUTED)
    record(
        uow,
        case,
        at=now,
        actor=ACTOR,
        kind="action_executed",
        summary=summary,
        data={"action_id": action.id, "kind": action.kind, **data},
    )


def _failed(
    uow: UnitOfWork,
    case: Case,
    action: Action,
    messages: Sequence[OutboxMessage],
    *,
    now: datetime,
    **data: Any,
) -> None:
    action.status = check_action_transition(ActionStatus.APPROVED, ActionStatus.FAILED)
    reason = _failure(uow, action, messages)
    record(
        uow,
        case,
        at=now,
        actor=ACTOR,
        kind="action_failed",
        summary=reason,
        data={"action_id": action.id, "kind": action.kind, "reason": reason, **data},
    )


def _round_actions(uow: UnitOfWork, case: Case) -> list[Action]:
    """The actions approved in the case's current decision round, in proposal order."""
    pin = pin_for(uow, case)
    current_round = pin.decision_round if pin is not None else 0
    actions = uow.session.scalars(
        select(Action)
        .where(Action.tenant_id == uow.tenant_id, Action.case_id == case.id)
        .order_by(Action.created_at, Action.id)
    )
    return [
        a
        for a in actions
        if a.status in WAS_APPROVED and (a.evaluation or {}).get("round") == current_round
    ]


def _messages(uow: UnitOfWork, action_ids: Sequence[str]) -> list[OutboxMessage]:
    return list(
        uow.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.tenant_id == uow.tenant_id, OutboxMessage.action_id.in_(action_ids)
            )
            .order_by(OutboxMessage.idempotency_key)
        )
    )


def _started(message: OutboxMessage) -> bool:
    return message.status != str(OutboxStatus.PENDING) or message.attempts > 0


def _failure(uow: UnitOfWork, action: Action, messages: Sequence[OutboxMessage]) -> str:
    saga = saga_of_action(uow, action.id)
    if saga is not None and saga.status in ENDED_BADLY:
        return f"{action.kind} {action.id} failed ({failure_summary(uow, saga)})"
    parts = [
        f"{m.system}.{m.operation} {m.status}: {m.last_error or m.dead_letter_reason or '-'}"
        for m in messages
        if m.action_id == action.id and m.status in UNSUCCESSFUL
    ]
    return f"{action.kind} {action.id} failed ({'; '.join(parts)})"


def _case_of(uow: UnitOfWork, message: OutboxMessage) -> Case | None:
    if message.action_id is None:
        return None
    case_id = uow.session.scalar(
        select(Action.case_id).where(
            Action.tenant_id == uow.tenant_id, Action.id == message.action_id
        )
    )
    return uow.cases.get(case_id) if case_id is not None else None


def _move(uow: UnitOfWork, case: Case, target: CaseStatus, *, at: datetime, reason: str) -> None:
    previous = case.status
    case.status = check_transition(CaseStatus(case.status), target)
    case.updated_at = at
    record(
        uow,
        case,
        at=at,
        actor=ACTOR,
        kind=str(target),
        summary=f"{target.capitalize()}: {reason}",
        data={"from": previous, "reason": reason},
    )
