"""Messages to the customer about a case: drafted, edited, approved, sent.

Each step is kept in ``communication_events`` with who, when and the text as it stood,
so the history shows exactly what was approved and what was sent. Editing an approved
message sends it back to draft: an approval covers one text, not whatever follows it.
The person who last wrote the text may not approve it (four eyes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from orderops.domain.errors import Forbidden, IllegalTransition, NotFound
from orderops.domain.usage import Meter
from orderops.storage.tables import Case
from orderops.storage.tables.queues import Communication, CommunicationEvent
from orderops.storage.uow import UnitOfWork
from orderops.workflow import usage
from orderops.workflow.cases import record
from orderops.workflow.conflicts import InvalidWorkRequest, StaleCommunication


class CommunicationStatus(StrEnum):
    DRAFTED = "drafted"
    APPROVED = "approved"
    SENT = "sent"


class Step(StrEnum):
    DRAFTED = "drafted"
    EDITED = "edited"
    APPROVED = "approved"
    SENT = "sent"


_NEXT: dict[tuple[CommunicationStatus, Step], CommunicationStatus] = {
    (CommunicationStatus.DRAFTED, Step.EDITED): CommunicationStatus.DRAFTED,
    (CommunicationStatus.DRAFTED, Step.APPROVED): CommunicationStatus.APPROVED,
    (CommunicationStatus.APPROVED, Step.EDITED): CommunicationStatus.DRAFTED,
    (CommunicationStatus.APPROVED, Step.SENT): CommunicationStatus.SENT,
}


@dataclass(frozen=True)
class HistoryStep:
    step: str
    actor: str
    at: datetime
    subject: str | None
    body: str


@dataclass(frozen=True)
class CommunicationView:
    id: str
    case_id: str
    channel: str
    recipient: str | None
    subject: str | None
    body: str
    status: str
    version: int
    history: Sequence[HistoryStep]


def draft(
    uow: UnitOfWork,
    case: Case,
    *,
    channel: str,
    body: str,
    actor: str,
    now: datetime,
    recipient: str | None = None,
    subject: str | None = None,
) -> Communication:
    if not body.strip():
        raise InvalidWorkRequest("a message needs a body")
    message = Communication(
        tenant_id=uow.tenant_id,
        case_id=case.id,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        status=CommunicationStatus.DRAFTED,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(message)
    uow.session.flush()
    _log(uow, case, message, Step.DRAFTED, actor=actor, now=now)
    return message


def edit(
    uow: UnitOfWork,
    message_id: str,
    *,
    expected_version: int | None,
    body: str,
    actor: str,
    now: datetime,
    subject: str | None = None,
) -> Communication:
    if not body.strip():
        raise InvalidWorkRequest("a message needs a body")
    message, case = _load(uow, message_id, expected_version)
    message.status = _advance(message, Step.EDITED)
    message.body, message.updated_at = body, now
    if subject is not None:
        message.subject = subject
    _log(uow, case, message, Step.EDITED, actor=actor, now=now)
    return message


def approve(
    uow: UnitOfWork, message_id: str, *, expected_version: int | None, actor: str, now: datetime
) -> Communication:
    message, case = _load(uow, message_id, expected_version)
    if actor == _last_author(uow, message):
        raise Forbidden("the person who wrote this text cannot also approve it")
    message.status = _advance(message, Step.APPROVED)
    message.updated_at = now
    _log(uow, case, message, Step.APPROVED, actor=actor, now=now)
    return message


def mark_sent(
    uow: UnitOfWork, message_id: str, *, expected_version: int | None, actor: str, now: datetime
) -> Communication:
    """Record that the approved text went out (the channel's delivery is the outbox's job)."""
    message, case = _load(uow, message_id, expected_version)
    message.status = _advance(message, Step.SENT)
    message.updated_at = now
    _log(uow, case, message, Step.SENT, actor=actor, now=now)
    usage.count(uow, Meter.MESSAGES, message.channel, 1, at=now)
    return message


def history(uow: UnitOfWork, case_id: str) -> list[CommunicationView]:
    """The case's messages, oldest first, each with its steps in the order they happened."""
    messages = uow.session.scalars(
        select(Communication)
        .where(Communication.tenant_id == uow.tenant_id, Communication.case_id == case_id)
        .order_by(Communication.created_at, Communication.id)
    ).all()
    events = uow.session.scalars(
        select(CommunicationEvent)
        .where(
            CommunicationEvent.tenant_id == uow.tenant_id,
            CommunicationEvent.communication_id.in_([m.id for m in messages]),
        )
        .order_by(CommunicationEvent.at, CommunicationEvent.id)
    ).all()
    steps: dict[str, list[HistoryStep]] = {m.id: [] for m in messages}
    for event in events:
        steps[event.communication_id].append(
            HistoryStep(event.step, event.actor, event.at, event.subject, event.body)
        )
    return [
        CommunicationView(
            m.id,
            m.case_id,
            m.channel,
            m.recipient,
            m.subject,
            m.body,
            m.status,
            m.version,
            steps[m.id],
        )
        for m in messages
    ]


def _advance(message: Communication, step: Step) -> CommunicationStatus:
    target = _NEXT.get((CommunicationStatus(message.status), step))
    if target is None:
        raise IllegalTransition(f"a {message.status} message cannot be {step}")
    return target


def _load(
    uow: UnitOfWork, message_id: str, expected_version: int | None
) -> tuple[Communication, Case]:
    message = uow.session.scalar(
        select(Communication)
        .where(Communication.tenant_id == uow.tenant_id, Communication.id == message_id)
        .with_for_update()
    )
    if message is None:
        raise NotFound(f"no communication {message_id}")
    if expected_version is not None and message.version != expected_version:
        raise StaleCommunication(
            f"communication {message_id} is at version {message.version}, not {expected_version}"
        )
    case = uow.cases.get(message.case_id)
    assert case is not None  # the foreign key guarantees it
    return message, case


def _last_author(uow: UnitOfWork, message: Communication) -> str | None:
    return uow.session.scalar(
        select(CommunicationEvent.actor)
        .where(
            CommunicationEvent.tenant_id == uow.tenant_id,
            CommunicationEvent.communication_id == message.id,
            CommunicationEvent.step.in_([Step.DRAFTED, Step.EDITED]),
        )
        .order_by(CommunicationEvent.at.desc(), CommunicationEvent.id.desc())
        .limit(1)
    )


def _log(
    uow: UnitOfWork, case: Case, message: Communication, step: Step, *, actor: str, now: datetime
) -> None:
    uow.session.add(
        CommunicationEvent(
            tenant_id=uow.tenant_id,
            communication_id=message.id,
            step=step,
            actor=actor,
            at=now,
            subject=message.subject,
            body=message.body,
        )
    )
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind=f"communication_{step}",
        summary=f"{message.channel} message {step} by {actor}",
        data={
            "communication_id": message.id,
            "message_status": message.status,
            "channel": message.channel,
        },
    )
