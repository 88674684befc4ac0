"""One voice per customer, for every message the desk sends: proactive notices, choice
links and what a person writes.

A customer is a customer record (``customer:<id>``), or the order when it has none
(``order:<ref>``): what they were sent is every message on a case of their orders that
went to the outbox (sending, delivered, bounced; a failed one never reached them), at the
time it was last handed over. The judgement itself is pure (``domain/notifications.py``
``voice_clash``): the same topic within the tenant's ``repeat_hours``, any topic within
its ``quiet_hours``.

A person sending into either is refused with the earlier message named
(``OneVoiceRefused``, a 409); sending anyway takes a reason, and the override is on the
case's timeline and in the audit log with that reason and the message it overrode. Rules
(notices, choice links sent by rule) judge before sending and never override: they wait or
leave the message to a person.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from orderops.cases.cases import record
from orderops.cases.conflicts import InvalidWorkRequest
from orderops.domain.errors import Conflict
from orderops.domain.notifications import NoticePolicy, Sent, VoiceClash, voice_clash
from orderops.storage.tables import Case, Order
from orderops.storage.tables.notifications import NotificationPolicy
from orderops.storage.tables.queues import Communication, CommunicationEvent
from orderops.storage.uow import UnitOfWork

REACHED = ("sent", "sending", "delivered", "bounced")
"""Message statuses that count as told: handed to the outbox, whatever became of it
since, except failed (the vendor never took it)."""


class OneVoiceRefused(Conflict):
    """Sending would tell the customer twice about one thing, or break their quiet period."""

    code = "one-voice"

    def __init__(self, clash: VoiceClash, topic: str | None) -> None:
        super().__init__(clash.describe(topic or "this"))
        self.clash = clash
        self.extensions: dict[str, Any] = {
            "earlier_communication_id": clash.earlier.communication_id,
            "earlier_case_id": clash.earlier.case_id,
            "rule": clash.rule,
            "until": clash.until.isoformat(),
        }


def notice_policy(uow: UnitOfWork) -> NoticePolicy:
    """The tenant's notice rule (its windows apply to every message); the default without."""
    rules = uow.session.scalar(
        select(NotificationPolicy.rules).where(NotificationPolicy.tenant_id == uow.tenant_id)
    )
    return NoticePolicy.model_validate(rules) if rules is not None else NoticePolicy()


def customer_key(uow: UnitOfWork, case: Case) -> str:
    customer_id = uow.session.scalar(
        select(Order.customer_id).where(Order.tenant_id == uow.tenant_id, Order.id == case.order_id)
    )
    return f"customer:{customer_id}" if customer_id else f"order:{case.order_ref}"


def messages_to(
    uow: UnitOfWork, key: str, *, since: datetime, exclude: str | None = None
) -> list[Sent]:
    """What the customer ``key`` names was sent since ``since``, newest first."""
    handed = (
        select(
            CommunicationEvent.communication_id.label("communication_id"),
            func.max(CommunicationEvent.at).label("at"),
        )
        .where(
            CommunicationEvent.tenant_id == uow.tenant_id,
            CommunicationEvent.step == "sent",
            CommunicationEvent.at >= since,
        )
        .group_by(CommunicationEvent.communication_id)
        .subquery()
    )
    query = (
        select(
            Communication.id,
            Communication.case_id,
            Case.order_ref,
            Communication.topic,
            handed.c.at,
        )
        .join(handed, handed.c.communication_id == Communication.id)
        .join(
            Case, (Case.tenant_id == Communication.tenant_id) & (Case.id == Communication.case_id)
        )
        .where(Communication.tenant_id == uow.tenant_id, Communication.status.in_(REACHED))
        .order_by(handed.c.at.desc(), Communication.id)
    )
    kind, _, ident = key.partition(":")
    if kind == "customer":
        query = query.join(
            Order, (Order.tenant_id == Case.tenant_id) & (Order.id == Case.order_id)
        ).where(Order.customer_id == ident)
    else:
        query = query.where(Case.order_ref == ident)
    if exclude is not None:
        query = query.where(Communication.id != exclude)
    return [Sent(*row) for row in uow.session.execute(query)]


def clash_for(
    uow: UnitOfWork,
    case: Case,
    *,
    topic: str | None,
    now: datetime,
    policy: NoticePolicy | None = None,
    exclude: str | None = None,
) -> VoiceClash | None:
    """Whether a message about ``topic`` to this case's customer would break one voice."""
    policy = policy or notice_policy(uow)
    window = max(policy.repeat_hours, policy.quiet_hours)
    earlier = messages_to(
        uow, customer_key(uow, case), since=now - timedelta(hours=window), exclude=exclude
    )
    return voice_clash(earlier, topic=topic, now=now, policy=policy)


def guard_send(
    uow: UnitOfWork,
    case: Case,
    message: Communication,
    *,
    actor: str,
    now: datetime,
    override_reason: str | None,
) -> None:
    """Refuse a person's send that breaks one voice, unless they give a reason; an
    override is recorded (timeline and audit) with the reason and the earlier message."""
    if override_reason is not None and not override_reason.strip():
        raise InvalidWorkRequest("overriding one voice needs a reason")
    clash = clash_for(uow, case, topic=message.topic, now=now, exclude=message.id)
    if clash is None:
        return
    if override_reason is None:
        raise OneVoiceRefused(clash, message.topic)
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="communication_one_voice_override",
        summary=f"{actor} sent message {message.id} despite one voice: {override_reason.strip()}",
        data={
            "communication_id": message.id,
            "topic": message.topic,
            "reason": override_reason.strip(),
            "rule": clash.rule,
            "earlier_communication_id": clash.earlier.communication_id,
            "earlier_case_id": clash.earlier.case_id,
            "until": clash.until.isoformat(),
        },
    )
