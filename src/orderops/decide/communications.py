"""Messages to the customer about a case: drafted, edited, approved, sent, delivered.

Each step is kept in ``communication_events`` with who, when and the text as it stood,
so the history shows exactly what was approved and what was sent. Editing an approved
message sends it back to draft: an approval covers one text, not whatever follows it.
The person who last wrote the text may not approve it (four eyes).

Sending queues the approved text in the outbox in the same transaction (``sending``,
decide/message_delivery.py says where it goes); when the worker settles that row the
message becomes ``delivered`` with the vendor's id, or ``failed`` with the vendor's reason.
A failed message can be retried: the same outbox row is queued again under the same key,
so a comment the vendor did write after all is found, never written twice. A message whose
outbox row is cancelled before delivery fails too, with that reason.

Delivered is "the support system has it"; the email it sends can still come back. The
bounce read-back (workflow/message_bounces.py) makes such a message ``bounced`` with the
mail server's reason. A bounced message is retried as a new delivery (a new outbox row,
keyed by the message's current version, since the first one did happen), to the same
address or to a corrected one (then a new ticket to that address).

Every message has a topic (``domain/notifications.Topic``; by default the one its case's
type implies), so one voice per customer (``decide/one_voice.py``) sees what people
write as well as what rules send: a person sending into the customer's quiet period, or
about a topic the customer was told about within the window, is refused with the earlier
message named, unless they give a reason (an audited override). A message no longer
wanted before it went (a withdrawn choice offer's link) is ``cancelled``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select

from orderops.cases.cases import record
from orderops.cases.conflicts import InvalidWorkRequest, StaleCommunication
from orderops.decide import one_voice
from orderops.decide.message_delivery import (
    queue_delivery,
    valid_address,
    vendor_reason,
    vendor_ref,
)
from orderops.domain.errors import Forbidden, IllegalTransition, NotFound
from orderops.domain.notifications import Topic, topic_of_case
from orderops.domain.usage import Meter
from orderops.metering import usage
from orderops.storage.tables import Case
from orderops.storage.tables.outbox import OutboxMessage
from orderops.storage.tables.queues import Communication, CommunicationEvent
from orderops.storage.uow import UnitOfWork
from orderops.writeback.admin import cancel_message, retry_message
from orderops.writeback.states import OPEN, OutboxStatus


class CommunicationStatus(StrEnum):
    DRAFTED = "drafted"
    APPROVED = "approved"
    SENT = "sent"
    """Marked sent by hand before delivery went through the outbox (kept for old rows)."""
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    CANCELLED = "cancelled"
    """Called off before it was sent (its reason on the case's timeline)."""


class Step(StrEnum):
    DRAFTED = "drafted"
    EDITED = "edited"
    APPROVED = "approved"
    SENT = "sent"
    """Handed to the outbox."""
    DELIVERED = "delivered"
    FAILED = "failed"
    RETRIED = "retried"
    BOUNCED = "bounced"
    CANCELLED = "cancelled"


_NEXT: dict[tuple[CommunicationStatus, Step], CommunicationStatus] = {
    (CommunicationStatus.DRAFTED, Step.EDITED): CommunicationStatus.DRAFTED,
    (CommunicationStatus.DRAFTED, Step.APPROVED): CommunicationStatus.APPROVED,
    (CommunicationStatus.APPROVED, Step.EDITED): CommunicationStatus.DRAFTED,
    (CommunicationStatus.APPROVED, Step.SENT): CommunicationStatus.SENDING,
    (CommunicationStatus.SENDING, Step.DELIVERED): CommunicationStatus.DELIVERED,
    (CommunicationStatus.SENDING, Step.FAILED): CommunicationStatus.FAILED,
    (CommunicationStatus.FAILED, Step.RETRIED): CommunicationStatus.SENDING,
    (CommunicationStatus.FAILED, Step.EDITED): CommunicationStatus.DRAFTED,
    (CommunicationStatus.DELIVERED, Step.BOUNCED): CommunicationStatus.BOUNCED,
    (CommunicationStatus.BOUNCED, Step.RETRIED): CommunicationStatus.SENDING,
    (CommunicationStatus.BOUNCED, Step.EDITED): CommunicationStatus.DRAFTED,
    (CommunicationStatus.DRAFTED, Step.CANCELLED): CommunicationStatus.CANCELLED,
    (CommunicationStatus.APPROVED, Step.CANCELLED): CommunicationStatus.CANCELLED,
}

SETTLER = "writeback"
BOUNCE_READER = "delivery-readback"


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
    delivery_ref: str | None = None
    delivery_error: str | None = None
    topic: str | None = None


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
    topic: str | None = None,
) -> Communication:
    """A new draft; ``topic`` (what it tells the customer about) defaults from the case."""
    if not body.strip():
        raise InvalidWorkRequest("a message needs a body")
    try:
        about = Topic(topic) if topic else topic_of_case(case.exception_type)
    except ValueError:
        known = ", ".join(t.value for t in Topic)
        raise InvalidWorkRequest(f"unknown topic {topic!r}; one of {known}") from None
    message = Communication(
        tenant_id=uow.tenant_id,
        case_id=case.id,
        channel=channel,
        recipient=recipient,
        subject=subject,
        body=body,
        status=CommunicationStatus.DRAFTED,
        topic=about,
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
    uow: UnitOfWork,
    message_id: str,
    *,
    expected_version: int | None,
    actor: str,
    now: datetime,
    override_reason: str | None = None,
    voice_judged: bool = False,
) -> Communication:
    """Send the approved text: one outbox row, keyed by the message and the version that
    was approved, queued with the move to ``sending`` (a second send is an illegal move).

    One voice is judged first (``OneVoiceRefused``, or an audited override with
    ``override_reason``); ``voice_judged``: a rule that judged it itself and chose to send."""
    message, case = _load(uow, message_id, expected_version)
    status = _advance(message, Step.SENT)
    if not voice_judged:
        one_voice.guard_send(
            uow, case, message, actor=actor, now=now, override_reason=override_reason
        )
    message.outbox_id = queue_delivery(uow, case, message, now=now)
    message.status, message.updated_at = status, now
    message.delivery_ref = message.delivery_error = None
    _log(uow, case, message, Step.SENT, actor=actor, now=now)
    usage.count(uow, Meter.MESSAGES, message.channel, 1, at=now)
    return message


def retry(
    uow: UnitOfWork,
    message_id: str,
    *,
    expected_version: int | None,
    actor: str,
    now: datetime,
    recipient: str | None = None,
) -> Communication:
    """Send a failed or bounced message again.

    A failed one's outbox row is queued again (same key, so at most one vendor write). A
    bounced one was written, so it gets a new row under a new key; with ``recipient`` (a
    corrected address) it goes as a new ticket to that address instead of the old ticket,
    whose requester's mail bounced."""
    message, case = _load(uow, message_id, expected_version)
    bounced = message.status == CommunicationStatus.BOUNCED
    status = _advance(message, Step.RETRIED)
    if message.outbox_id is None:
        raise IllegalTransition(f"message {message_id} was never queued; send it instead")
    if recipient is not None:
        message.recipient = valid_address(recipient)
    if bounced or recipient is not None:
        message.outbox_id = queue_delivery(
            uow, case, message, now=now, to_recipient=recipient is not None
        )
    else:
        retry_message(uow, message.outbox_id, actor=actor, now=now)
    message.status, message.updated_at = status, now
    message.delivery_error = None
    _log(uow, case, message, Step.RETRIED, actor=actor, now=now)
    return message


def withdraw(uow: UnitOfWork, message_id: str, *, actor: str, now: datetime, reason: str) -> bool:
    """Call a message off because what it says no longer holds (its offer was withdrawn):
    a draft or approved one is cancelled; one queued but not yet taken by a worker has its
    outbox row cancelled, so it fails with that reason. One the vendor may already have
    (delivered, bounced, or in a worker's hands) stays as it is: False."""
    message, case = _load(uow, message_id, None)
    if message.status in (CommunicationStatus.DRAFTED, CommunicationStatus.APPROVED):
        message.status = _advance(message, Step.CANCELLED)
        message.delivery_error, message.updated_at = reason, now
        _log(uow, case, message, Step.CANCELLED, actor=actor, now=now)
        return True
    if message.status != CommunicationStatus.SENDING or message.outbox_id is None:
        return False
    try:
        with uow.session.begin_nested():
            outbox = cancel_message(uow, message.outbox_id, actor=actor, now=now)
    except IllegalTransition:
        return False
    settle_deliveries(uow, [outbox], now)
    return True


def record_bounce(
    uow: UnitOfWork, message_id: str, *, outbox_id: str, reason: str, now: datetime
) -> Communication | None:
    """The bounce read-back found that the email carrying this delivery came back. Only a
    message still delivered by that same outbox row moves (a retried one is newer news)."""
    message = uow.session.scalar(
        select(Communication)
        .where(Communication.tenant_id == uow.tenant_id, Communication.id == message_id)
        .with_for_update()
    )
    if (
        message is None
        or message.outbox_id != outbox_id
        or message.status != CommunicationStatus.DELIVERED
    ):
        return None
    case = uow.cases.get(message.case_id)
    assert case is not None  # the foreign key guarantees it
    message.status = _advance(message, Step.BOUNCED)
    message.delivery_error, message.updated_at = reason, now
    _log(uow, case, message, Step.BOUNCED, actor=BOUNCE_READER, now=now)
    return message


def settle_deliveries(uow: UnitOfWork, settled: Sequence[OutboxMessage], now: datetime) -> None:
    """The worker's settled hook (and the outbox's cancel): a message whose outbox row was
    delivered is delivered, one whose row failed, conflicted or was cancelled is failed with
    the reason. Rows still open, rows that carry no message, and messages no longer
    sending, are left alone."""
    by_outbox = {m.id: m for m in settled if m.status not in OPEN}
    if not by_outbox:
        return
    messages = uow.session.scalars(
        select(Communication)
        .where(
            Communication.tenant_id == uow.tenant_id,
            Communication.outbox_id.in_(list(by_outbox)),
            Communication.status == CommunicationStatus.SENDING,
        )
        .order_by(Communication.id)
        .with_for_update()
    ).all()
    for message in messages:
        outbox = by_outbox[message.outbox_id or ""]
        case = uow.cases.get(message.case_id)
        assert case is not None  # the foreign key guarantees it
        if outbox.status == OutboxStatus.DELIVERED:
            message.status = _advance(message, Step.DELIVERED)
            message.delivery_ref = vendor_ref(outbox)
            step = Step.DELIVERED
        else:
            message.status = _advance(message, Step.FAILED)
            message.delivery_error = vendor_reason(outbox)
            step = Step.FAILED
        message.updated_at = now
        _log(uow, case, message, step, actor=SETTLER, now=now)


def settle_stranded(uow: UnitOfWork, now: datetime) -> int:
    """Messages still ``sending`` whose outbox row was cancelled (before cancelling settled
    them, or by a path that does not): failed now, with the reason. How many."""
    rows = uow.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.tenant_id == uow.tenant_id,
            OutboxMessage.status == OutboxStatus.CANCELLED,
            OutboxMessage.id.in_(
                select(Communication.outbox_id).where(
                    Communication.tenant_id == uow.tenant_id,
                    Communication.status == CommunicationStatus.SENDING,
                )
            ),
        )
    ).all()
    settle_deliveries(uow, rows, now)
    return len(rows)


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
            m.delivery_ref,
            m.delivery_error,
            m.topic,
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
            "outbox_id": message.outbox_id,
            "delivery_ref": message.delivery_ref,
            "delivery_error": message.delivery_error,
            "topic": message.topic,
        },
    )
