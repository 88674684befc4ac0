"""One voice: when several cases would message the same customer about the same order,
their messages merge into one, and the same message is never queued twice.

Merging keeps the first greeting and the last closing once, and every distinct paragraph
between them in case order. The dedupe key is a hash of the order, the recipient and the
merged text; the database's unique index on it is what makes "never twice" hold under
concurrency (``DuplicateMessage``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from orderops.decide import communications
from orderops.domain.errors import Conflict, NotFound
from orderops.storage.tables import Case
from orderops.storage.tables.recommend import (
    CustomerMessageKey,
    Recommendation,
    RecommendationDraft,
)
from orderops.storage.uow import UnitOfWork


class DuplicateMessage(Conflict):
    """This customer was already sent (or queued) exactly this message about this order."""

    code = "duplicate-message"


@dataclass(frozen=True)
class PendingMessage:
    case_id: str
    subject: str
    body: str


@dataclass(frozen=True)
class MergedMessage:
    case_ids: tuple[str, ...]
    subject: str
    body: str


def _paragraphs(body: str) -> list[str]:
    return [p.strip() for p in body.strip().split("\n\n") if p.strip()]


def merge(messages: Sequence[PendingMessage]) -> MergedMessage:
    if not messages:
        raise ValueError("nothing to merge")
    if len(messages) == 1:
        only = messages[0]
        return MergedMessage((only.case_id,), only.subject, only.body.strip())
    parts = [_paragraphs(m.body) for m in messages]
    greeting, closing = parts[0][0], parts[-1][-1]
    middle: list[str] = []
    for paragraphs in parts:
        for paragraph in paragraphs:
            if paragraph not in (greeting, closing) and paragraph not in middle:
                middle.append(paragraph)
    body = "\n\n".join([greeting, *middle, closing])
    return MergedMessage(tuple(m.case_id for m in messages), messages[0].subject, body)


def dedupe_key(order_ref: str, recipient: str | None, body: str) -> str:
    text = f"{order_ref}\x1f{recipient or ''}\x1f{' '.join(body.split())}"
    return hashlib.sha256(text.encode()).hexdigest()


def pending_for_order(uow: UnitOfWork, order_ref: str) -> list[PendingMessage]:
    """The ready customer draft of each open case's latest recommendation on the order."""
    cases = uow.session.scalars(
        select(Case)
        .where(
            Case.tenant_id == uow.tenant_id,
            Case.order_ref == order_ref,
            Case.status.not_in(["resolved", "rejected"]),
        )
        .order_by(Case.opened_at, Case.id)
    ).all()
    pending: list[PendingMessage] = []
    for case in cases:
        latest = uow.session.scalar(
            select(Recommendation)
            .where(Recommendation.tenant_id == uow.tenant_id, Recommendation.case_id == case.id)
            .order_by(Recommendation.created_at.desc(), Recommendation.id.desc())
            .limit(1)
        )
        if latest is None:
            continue
        drafts = uow.session.scalars(
            select(RecommendationDraft).where(
                RecommendationDraft.tenant_id == uow.tenant_id,
                RecommendationDraft.recommendation_id == latest.id,
                RecommendationDraft.audience == "customer",
                RecommendationDraft.status == "ready",
            )
        ).all()
        chosen = sorted(drafts, key=lambda d: d.source != "model")
        if chosen:
            pending.append(PendingMessage(case.id, chosen[0].subject, chosen[0].body))
    return pending


def speak(
    uow: UnitOfWork,
    order_ref: str,
    *,
    recipient: str | None,
    actor: str,
    now: datetime,
    channel: str = "email",
) -> str:
    """Draft one merged message for the order's open cases; return the communication id.

    The message is drafted on the first case (the others' timelines point to it); it
    still needs a second person's approval before it is sent (decide.communications).
    """
    pending = pending_for_order(uow, order_ref)
    if not pending:
        raise NotFound(f"no ready customer draft for order {order_ref}")
    merged = merge(pending)
    key = dedupe_key(order_ref, recipient, merged.body)
    exists = uow.session.scalar(
        select(CustomerMessageKey).where(
            CustomerMessageKey.tenant_id == uow.tenant_id, CustomerMessageKey.dedupe_key == key
        )
    )
    if exists is not None:
        raise DuplicateMessage(
            f"order {order_ref}: this message was already queued as {exists.communication_id}"
        )
    case = uow.cases.get(merged.case_ids[0])
    assert case is not None
    message = communications.draft(
        uow,
        case,
        channel=channel,
        body=merged.body,
        actor=actor,
        now=now,
        recipient=recipient,
        subject=merged.subject,
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(
                CustomerMessageKey(
                    tenant_id=uow.tenant_id,
                    dedupe_key=key,
                    order_ref=order_ref,
                    communication_id=message.id,
                    case_ids={"case_ids": list(merged.case_ids)},
                    created_at=now,
                )
            )
    except IntegrityError as exc:
        raise DuplicateMessage(f"order {order_ref}: this message is being queued already") from exc
    return message.id
