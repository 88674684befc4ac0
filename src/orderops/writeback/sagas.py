"""Sagas: multi-step writebacks (a reship) that undo their finished steps when one fails.

Each step is an outbox message with its own key (``<saga key>:<position>:<name>``), so every
step inherits the outbox's leasing, retries and at-most-once delivery. Steps run one after
another: the next one is enqueued in the transaction that records the previous one as
delivered, with ``{"$ref": "<step>.<field>"}`` values in its payload filled from earlier
results (the label is bought on the shipment the previous step created). When a step fails
or conflicts, the undo of every finished step is enqueued in reverse order, one at a
time, and the saga ends ``compensated`` (or ``failed`` if an undo itself fails). Every
step's change of state is a case timeline entry.

A step may be the saga's pivot (``SagaStep.pivot``): one that cannot be undone, such as
money refunded to a card. Steps that can be undone go before it; once it is done the
saga only goes forward, so a later step's failure undoes nothing and leaves the saga
``failed`` for a person, whose retry of the failed row carries it on to completion.

A saga started for an approved action (``action_id``) carries the action and the order on
every row it queues, undo rows included, so the remedy ledger finds them as it finds any
action's rows and ``decide.execution`` concludes the action from the saga's outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from orderops.cases.cases import record
from orderops.domain.errors import OrderOpsError
from orderops.storage.base import new_id
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.writeback import WritebackSaga, WritebackSagaStep
from orderops.storage.uow import UnitOfWork
from orderops.writeback.outbox import DuplicateEffect, enqueue
from orderops.writeback.states import OutboxStatus, SagaStatus, StepState

REF = "$ref"
TIMELINE_KIND = "saga_step"


class InvalidSaga(OrderOpsError):
    """The steps do not form a saga that can run (no steps, repeated names, bad references)."""

    code = "invalid-saga"


@dataclass(frozen=True, kw_only=True)
class Effect:
    system: str
    operation: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class SagaStep:
    """One step; ``undo`` payload may also refer to this step's own result by its name."""

    name: str
    effect: Effect
    undo: Effect | None = None
    pivot: bool = False
    """Cannot be undone and commits the saga (see the module docstring)."""


# -- building steps (the reship and substitution sagas share these shapes) --------------


def ref(step: str, field: str) -> dict[str, str]:
    """A payload value filled, when the step runs, from an earlier step's result."""
    return {REF: f"{step}.{field}"}


def step(
    name: str,
    system: str,
    operation: str,
    payload: Mapping[str, Any],
    *,
    undo: tuple[str, str, Mapping[str, Any]] | None = None,
    pivot: bool = False,
) -> SagaStep:
    """A step writing ``payload`` (copied) to ``system.operation``; ``undo`` is the
    (system, operation, payload) that takes it back."""
    return SagaStep(
        name=name,
        effect=Effect(system=system, operation=operation, payload={**payload}),
        undo=Effect(system=undo[0], operation=undo[1], payload={**undo[2]}) if undo else None,
        pivot=pivot,
    )


def customer_comment(ticket_id: str | int, text: str) -> SagaStep:
    """The last step of a remedy saga: a public comment on the customer's ticket. Never
    undone: it comes after everything it speaks of is real."""
    return step(
        "notify",
        "zendesk",
        "add_comment",
        {"ticket_id": int(ticket_id), "comment": text, "public": True},
    )


def stamped(step: SagaStep, stamp: Mapping[str, Any]) -> SagaStep:
    """The step with ``stamp`` (the action and case) on its payload and its undo's."""
    undo = step.undo
    if undo is not None:
        undo = Effect(
            system=undo.system, operation=undo.operation, payload={**undo.payload, **stamp}
        )
    return SagaStep(
        name=step.name,
        effect=Effect(
            system=step.effect.system,
            operation=step.effect.operation,
            payload={**step.effect.payload, **stamp},
        ),
        undo=undo,
        pivot=step.pivot,
    )


def resolve(template: Any, results: Mapping[str, Mapping[str, Any]]) -> Any:
    """Replace each ``{"$ref": "step.field"}`` with that result field; KeyError if absent."""
    if isinstance(template, Mapping):
        if set(template) == {REF}:
            step, _, name = str(template[REF]).partition(".")
            return results[step][name]
        return {k: resolve(v, results) for k, v in template.items()}
    if isinstance(template, list):
        return [resolve(v, results) for v in template]
    return template


def references(template: Any) -> list[str]:
    """The step names a payload template refers to."""
    if isinstance(template, Mapping):
        if set(template) == {REF}:
            return [str(template[REF]).partition(".")[0]]
        return [name for v in template.values() for name in references(v)]
    if isinstance(template, list):
        return [name for v in template for name in references(v)]
    return []


def validate(steps: Sequence[SagaStep]) -> None:
    if not steps:
        raise InvalidSaga("a saga needs at least one step")
    seen: set[str] = set()
    for step in steps:
        if step.name in seen:
            raise InvalidSaga(f"step name {step.name} is used twice")
        unknown = set(references(step.effect.payload)) - seen
        if unknown:
            raise InvalidSaga(f"step {step.name} refers to later or unknown steps {unknown}")
        if step.undo is not None:
            unknown = set(references(step.undo.payload)) - seen - {step.name}
            if unknown:
                raise InvalidSaga(f"undo of {step.name} refers to unknown steps {unknown}")
            if step.pivot:
                raise InvalidSaga(f"step {step.name} is a pivot: it has no undo")
        seen.add(step.name)
    if sum(step.pivot for step in steps) > 1:
        raise InvalidSaga("a saga has at most one pivot")


def action_saga_key(action_id: str) -> str:
    """The key of the saga an approved action runs: one saga per action, ever."""
    return f"{action_id}:saga"


def saga_of_action(uow: UnitOfWork, action_id: str) -> WritebackSaga | None:
    return uow.session.scalar(
        select(WritebackSaga).where(
            WritebackSaga.tenant_id == uow.tenant_id,
            WritebackSaga.saga_key == action_saga_key(action_id),
        )
    )


def start_saga(
    uow: UnitOfWork,
    *,
    case_id: str | None,
    kind: str,
    steps: Sequence[SagaStep],
    now: datetime,
    key: str | None = None,
    order_ref: str | None = None,
    action_id: str | None = None,
) -> str:
    """Record the saga and enqueue its first step in the caller's transaction; its id.

    ``key`` (fixed at decision time, e.g. from the approved action) makes a repeated start
    raise DuplicateEffect instead of reshipping twice.
    """
    validate(steps)
    saga_id = new_id()
    saga = WritebackSaga(
        id=saga_id,
        tenant_id=uow.tenant_id,
        case_id=case_id,
        kind=kind,
        saga_key=key or f"saga:{kind}:{saga_id}",
        status=str(SagaStatus.RUNNING),
        created_at=now,
        updated_at=now,
    )
    if uow.session.scalar(
        select(WritebackSaga.id).where(
            WritebackSaga.tenant_id == uow.tenant_id, WritebackSaga.saga_key == saga.saga_key
        )
    ):
        raise DuplicateEffect(f"a saga with key {saga.saga_key} was already started")
    uow.session.add(saga)
    rows = [
        WritebackSagaStep(
            tenant_id=uow.tenant_id,
            saga_id=saga_id,
            position=position,
            name=step.name,
            system=step.effect.system,
            operation=step.effect.operation,
            payload=dict(step.effect.payload),
            undo=_effect_json(step.undo),
            pivot=step.pivot,
            state=str(StepState.PENDING),
            updated_at=now,
        )
        for position, step in enumerate(steps, start=1)
    ]
    uow.session.add_all(rows)
    uow.session.flush()
    _enqueue_step(uow, saga, rows[0], {}, now=now, order_ref=order_ref, action_id=action_id)
    return saga_id


def first_message(uow: UnitOfWork, saga_id: str) -> str:
    """The outbox row of the saga's first step (queued by ``start_saga``)."""
    message_id = uow.session.scalar(
        select(WritebackSagaStep.message_id).where(
            WritebackSagaStep.tenant_id == uow.tenant_id,
            WritebackSagaStep.saga_id == saga_id,
            WritebackSagaStep.position == 1,
        )
    )
    if message_id is None:
        raise InvalidSaga(f"saga {saga_id} queued no first step")
    return message_id


def failure_summary(uow: UnitOfWork, saga: WritebackSaga) -> str:
    """What the case shows of a saga that did not complete: the step that failed, why, and
    the finished steps that were undone (newest first), or the undo that failed."""
    steps = _steps(uow, saga)
    undone = [
        s.name
        for s in reversed(steps)
        if s.state == str(StepState.COMPENSATED) and s.undo is not None
    ]
    failed = next((s for s in steps if s.position == saga.failed_step), None)
    pivot = _done_pivot(steps, before=saga.failed_step)
    if saga.status == str(SagaStatus.FAILED) and pivot is not None:
        return (
            f"step {saga.reason}; undone: nothing, past {pivot.name}, which cannot be "
            "undone (retry the step to finish it)"
        )
    if saga.status == str(SagaStatus.FAILED) and failed is not None:
        head = f"step {failed.name} failed, then {saga.reason} (finish it by hand)"
    else:
        head = f"step {saga.reason}"  # the reason starts with the step's name
    return f"{head}; undone: {', '.join(undone) or 'nothing'}"


def on_message_settled(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
    """Advance the saga a settled message belongs to, if any."""
    on_messages_settled(uow, [message], now)


def on_messages_settled(uow: UnitOfWork, messages: Sequence[OutboxMessage], now: datetime) -> None:
    """Advance the sagas settled messages belong to (the worker's settled hook): one read
    finds the steps of the whole group, since most messages belong to no saga at all."""
    if not messages:
        return
    ids = [m.id for m in messages]
    steps: dict[str, WritebackSagaStep] = {}
    for step in uow.session.scalars(
        select(WritebackSagaStep).where(
            WritebackSagaStep.tenant_id == uow.tenant_id,
            or_(
                WritebackSagaStep.message_id.in_(ids),
                WritebackSagaStep.undo_message_id.in_(ids),
            ),
        )
    ):
        for message_id in (step.message_id, step.undo_message_id):
            if message_id is not None:
                steps[message_id] = step
    for message in messages:
        found = steps.get(message.id)
        if found is not None:
            _step_settled(uow, found, message, now)


def _step_settled(
    uow: UnitOfWork, step: WritebackSagaStep, message: OutboxMessage, now: datetime
) -> None:
    saga = uow.session.get(WritebackSaga, step.saga_id)
    assert saga is not None
    delivered = message.status == str(OutboxStatus.DELIVERED)
    if step.undo_message_id == message.id:
        _undo_settled(uow, saga, step, message, delivered=delivered, now=now)
        return
    if delivered:
        if saga.status == str(SagaStatus.FAILED) and _done_pivot(
            _steps(uow, saga), before=step.position
        ):
            saga.status, saga.reason = str(SagaStatus.RUNNING), None  # retried forward
        _set_step(uow, saga, step, StepState.DONE, now=now, result=message.result)
        _advance(uow, saga, step, now=now, message=message)
    else:
        reason = message.dead_letter_reason or message.last_error or message.status
        _fail(uow, saga, step, reason=f"{step.name} {message.status}: {reason}", now=now)


def _advance(
    uow: UnitOfWork,
    saga: WritebackSaga,
    step: WritebackSagaStep,
    *,
    now: datetime,
    message: OutboxMessage,
) -> None:
    steps = _steps(uow, saga)
    following = [s for s in steps if s.position > step.position]
    if not following:
        saga.status, saga.updated_at = str(SagaStatus.COMPLETED), now
        _timeline(uow, saga, f"{saga.kind} completed", {"saga_id": saga.id}, now=now)
        return
    _enqueue_step(
        uow,
        saga,
        following[0],
        _results(steps),
        now=now,
        order_ref=message.order_ref,
        action_id=message.action_id,
    )


def _enqueue_step(
    uow: UnitOfWork,
    saga: WritebackSaga,
    step: WritebackSagaStep,
    results: Mapping[str, Mapping[str, Any]],
    *,
    now: datetime,
    order_ref: str | None,
    action_id: str | None,
) -> None:
    try:
        payload = resolve(step.payload, results)
    except KeyError as missing:
        _fail(uow, saga, step, reason=f"{step.name} needs {missing} from an earlier step", now=now)
        return
    step.message_id = enqueue(
        uow,
        system=step.system,
        operation=step.operation,
        idempotency_key=f"{saga.saga_key}:{step.position}:{step.name}",
        payload=payload,
        now=now,
        action_id=action_id,
        case_id=saga.case_id,
        order_ref=order_ref,
    )
    step.updated_at = now
    _timeline(
        uow,
        saga,
        f"{saga.kind} step {step.position} {step.name}: {StepState.PENDING}",
        {"saga_id": saga.id, "step": step.name, "position": step.position, "state": "pending"},
        now=now,
    )


def _fail(
    uow: UnitOfWork, saga: WritebackSaga, step: WritebackSagaStep, *, reason: str, now: datetime
) -> None:
    _set_step(uow, saga, step, StepState.FAILED, now=now)
    saga.status, saga.failed_step, saga.reason = str(SagaStatus.COMPENSATING), step.position, reason
    saga.updated_at = now
    pivot = _done_pivot(_steps(uow, saga), before=step.position)
    if pivot is not None:
        saga.status = str(SagaStatus.FAILED)
        _timeline(
            uow,
            saga,
            f"{saga.kind}: {step.name} failed after {pivot.name}, which cannot be undone; "
            "nothing undone, retry the step to finish",
            {"saga_id": saga.id, "step": step.name, "pivot": pivot.name, "reason": reason},
            now=now,
        )
        return
    _compensate_next(uow, saga, now=now)


def _undo_settled(
    uow: UnitOfWork,
    saga: WritebackSaga,
    step: WritebackSagaStep,
    message: OutboxMessage,
    *,
    delivered: bool,
    now: datetime,
) -> None:
    if delivered:
        _set_step(uow, saga, step, StepState.COMPENSATED, now=now)
        _compensate_next(uow, saga, now=now)
        return
    reason = message.dead_letter_reason or message.last_error or message.status
    saga.status, saga.updated_at = str(SagaStatus.FAILED), now
    saga.reason = f"undo of {step.name} {message.status}: {reason}"
    _timeline(
        uow,
        saga,
        f"{saga.kind}: undo of {step.name} failed, finish it by hand",
        {"saga_id": saga.id, "step": step.name, "reason": saga.reason},
        now=now,
    )


def _compensate_next(uow: UnitOfWork, saga: WritebackSaga, *, now: datetime) -> None:
    """Enqueue the undo of the latest finished step; steps without an undo are skipped."""
    steps = _steps(uow, saga)
    results = _results(steps)
    origin = _origin(uow, steps)
    for step in sorted(steps, key=lambda s: s.position, reverse=True):
        if step.state != str(StepState.DONE):
            continue
        if step.undo_message_id is not None:
            return  # its undo is queued and will call back when settled
        if step.undo is None:
            _set_step(uow, saga, step, StepState.COMPENSATED, now=now)
            continue
        try:
            payload = resolve(step.undo["payload"], results)
        except KeyError as missing:
            saga.status, saga.reason = str(SagaStatus.FAILED), f"undo of {step.name}: {missing}"
            return
        step.undo_message_id = enqueue(
            uow,
            system=str(step.undo["system"]),
            operation=str(step.undo["operation"]),
            idempotency_key=f"{saga.saga_key}:{step.position}:{step.name}:undo",
            payload=payload,
            now=now,
            action_id=origin.action_id if origin is not None else None,
            case_id=saga.case_id,
            order_ref=origin.order_ref if origin is not None else None,
        )
        step.updated_at = now
        return
    saga.status, saga.updated_at = str(SagaStatus.COMPENSATED), now
    _timeline(
        uow, saga, f"{saga.kind} compensated", {"saga_id": saga.id, "reason": saga.reason}, now=now
    )


def _set_step(
    uow: UnitOfWork,
    saga: WritebackSaga,
    step: WritebackSagaStep,
    state: StepState,
    *,
    now: datetime,
    result: dict[str, Any] | None = None,
) -> None:
    step.state, step.updated_at = str(state), now
    if result is not None:
        step.result = result
    _timeline(
        uow,
        saga,
        f"{saga.kind} step {step.position} {step.name}: {state}",
        {"saga_id": saga.id, "step": step.name, "position": step.position, "state": str(state)},
        now=now,
    )


def _timeline(
    uow: UnitOfWork, saga: WritebackSaga, summary: str, data: dict[str, Any], *, now: datetime
) -> None:
    if saga.case_id is None:
        return
    case = uow.cases.get(saga.case_id)
    if case is not None:
        record(uow, case, at=now, actor="writeback", kind=TIMELINE_KIND, summary=summary, data=data)


def _steps(uow: UnitOfWork, saga: WritebackSaga) -> list[WritebackSagaStep]:
    return list(
        uow.session.scalars(
            select(WritebackSagaStep)
            .where(
                WritebackSagaStep.tenant_id == uow.tenant_id,
                WritebackSagaStep.saga_id == saga.id,
            )
            .order_by(WritebackSagaStep.position)
        )
    )


def _done_pivot(
    steps: Sequence[WritebackSagaStep], *, before: int | None
) -> WritebackSagaStep | None:
    """The finished pivot ahead of the step at ``before``, if the saga is past one."""
    return next(
        (
            s
            for s in steps
            if s.pivot
            and s.state == str(StepState.DONE)
            and (before is None or s.position < before)
        ),
        None,
    )


def _origin(uow: UnitOfWork, steps: Sequence[WritebackSagaStep]) -> OutboxMessage | None:
    """The first step's row: the action and order every row of the saga is queued for."""
    first = steps[0].message_id if steps else None
    return uow.session.get(OutboxMessage, first) if first is not None else None


def _results(steps: Sequence[WritebackSagaStep]) -> dict[str, dict[str, Any]]:
    return {s.name: dict(s.result) for s in steps if s.result is not None}


def _effect_json(effect: Effect | None) -> dict[str, Any] | None:
    if effect is None:
        return None
    return {"system": effect.system, "operation": effect.operation, "payload": dict(effect.payload)}
