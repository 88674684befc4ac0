"""The case page's read model: the case, its order's history, decisions, messages and the
writeback progress of each approved effect, gathered in one read-only unit of work.

The timeline merges the case's own entries (decisions, messages, moves) with the order's
history from the projected state (placed, payments, scans, tickets), so a reviewer sees
what happened before the case opened too. Pipeline "event" entries are left out: the
order history already shows each of those facts with its provider time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.console.web import Viewer
from orderops.domain.actions import ActionStatus
from orderops.domain.roles import Permission
from orderops.recommend.factcheck import Problem
from orderops.recommend.recheck import recheck_message
from orderops.recommend.service import recommendations_for
from orderops.storage.tables import Action, Case, Order, OutboxMessage, SupportTicket
from orderops.storage.tables.access import User
from orderops.storage.uow import UnitOfWork
from orderops.workflow.actions import ActionView, get_case, view
from orderops.workflow.communications import CommunicationView, history
from orderops.workflow.policy_versions import pin_for
from orderops.writeback.admin import OutboxFilter, list_messages


@dataclass(frozen=True, kw_only=True)
class TimelineItem:
    at: datetime
    source: str
    """"case" for the case's own record, "order", "payment", "scan", "ticket" for history."""
    kind: str
    summary: str
    actor: str


@dataclass(frozen=True, kw_only=True)
class ActionCard:
    action: ActionView
    can_approve: bool
    can_reject: bool
    why_not: str | None
    effects: list[OutboxMessage]


@dataclass(kw_only=True)
class CasePage:
    case: Case
    order: Order | None
    timeline: list[TimelineItem]
    actions: list[ActionCard]
    messages: list[CommunicationView]
    evidence: list[dict[str, Any]]
    policy_version: int | None
    other_effects: list[OutboxMessage] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)
    """Subject (``user:<id>``) to display name, so pages show people, not ids."""
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    """The recommender's stored recommendations for the case, newest first."""
    problems: dict[str, tuple[Problem, ...]] = field(default_factory=dict)
    """Message id to what the fact checker finds in its current text (unsent messages)."""

    def who(self, subject: str) -> str:
        return self.people.get(subject, subject)

    @property
    def impact(self) -> Any:
        return (self.case.facts or {}).get("impact")

    @property
    def facts(self) -> dict[str, Any]:
        hidden = {"impact", "recommendations"}
        return {k: v for k, v in (self.case.facts or {}).items() if k not in hidden}


def case_page(uow: UnitOfWork, case_id: str, *, viewer: Viewer, now: datetime) -> CasePage:
    case = get_case(uow, case_id)
    order = uow.commerce.order(case.order_id)
    entries = uow.cases.timeline(case.id)
    timeline = [
        TimelineItem(at=e.at, source="case", kind=e.kind, summary=e.summary, actor=e.actor)
        for e in entries
        if e.kind != "event"
    ]
    if order is not None:
        timeline += order_history(uow, order)
    timeline.sort(key=lambda t: t.at)
    effects = list_messages(uow, OutboxFilter(case_id=case.id), limit=200).items
    actions = uow.session.scalars(
        select(Action)
        .where(Action.tenant_id == uow.tenant_id, Action.case_id == case.id)
        .order_by(Action.created_at, Action.id)
    ).all()
    cards = [
        _card(view(uow, a), viewer, [m for m in effects if m.action_id == a.id]) for a in actions
    ]
    pin = pin_for(uow, case)
    messages = history(uow, case.id)
    return CasePage(
        case=case,
        order=order,
        timeline=timeline,
        actions=cards,
        messages=messages,
        evidence=[dict(e.data) for e in entries if e.kind == "evidence_added"],
        policy_version=pin.policy_version if pin is not None else None,
        other_effects=sorted(
            [m for m in effects if m.action_id is None], key=lambda m: m.created_at
        ),
        people={
            f"user:{user_id}": name
            for user_id, name in uow.session.execute(
                select(User.id, User.display_name).where(User.tenant_id == uow.tenant_id)
            )
        },
        recommendations=recommendations_for(uow, case.id),
        problems={
            m.id: recheck_message(uow, case, subject=m.subject, body=m.body, now=now).problems
            for m in messages
            if m.status not in ("sent", "sending", "delivered")
        },
    )


def order_history(uow: UnitOfWork, order: Order) -> list[TimelineItem]:
    ref = order.order_ref
    items = [
        TimelineItem(
            at=order.placed_at,
            source="order",
            kind="order_placed",
            summary=f"Order {ref} placed: {order.total_minor / 100:,.2f} {order.currency}",
            actor=order.source,
        )
    ]
    if order.cancelled_at is not None:
        items.append(
            TimelineItem(
                at=order.cancelled_at,
                source="order",
                kind="order_cancelled",
                summary=f"Order {ref} cancelled",
                actor=order.source,
            )
        )
    for payment in uow.commerce.payments_for(ref):
        reason = f" ({payment.failure_code})" if payment.failure_code else ""
        items.append(
            TimelineItem(
                at=payment.status_at,
                source="payment",
                kind=f"payment_{payment.status}",
                summary=f"Payment {payment.payment_ref} {payment.status}{reason}: "
                f"{payment.amount_minor / 100:,.2f} {payment.currency}",
                actor=payment.provider,
            )
        )
    for shipment in uow.commerce.shipments_for(ref):
        for scan in uow.commerce.tracking_events(shipment.id):
            where = f" at {scan.location}" if scan.location else ""
            items.append(
                TimelineItem(
                    at=scan.occurred_at,
                    source="scan",
                    kind=f"scan_{scan.status}",
                    summary=f"{shipment.carrier} {shipment.tracking_number}: "
                    f"{scan.status}{where}" + (f" ({scan.message})" if scan.message else ""),
                    actor=shipment.carrier,
                )
            )
    for ticket in uow.session.scalars(
        select(SupportTicket).where(
            SupportTicket.tenant_id == uow.tenant_id, SupportTicket.order_ref == ref
        )
    ):
        items.append(
            TimelineItem(
                at=ticket.opened_at,
                source="ticket",
                kind=f"ticket_{ticket.status}",
                summary=f"Ticket {ticket.ticket_ref}: {ticket.subject or '(no subject)'}",
                actor=ticket.source,
            )
        )
    return items


def _card(action: ActionView, viewer: Viewer, effects: list[OutboxMessage]) -> ActionCard:
    pending = action.status == ActionStatus.AWAITING_APPROVAL
    mine = action.proposed_by == viewer.principal.identity
    decided = any(d.approver == viewer.principal.identity for d in action.decisions)
    allowed = viewer.can(Permission.ACTIONS_APPROVE)
    why_not = None
    if pending and not allowed:
        why_not = f"your role ({viewer.user.role}) does not approve actions"
    elif pending and mine:
        why_not = "you proposed this action; another person must approve it"
    elif pending and decided:
        why_not = "you already decided on this action"
    return ActionCard(
        action=action,
        can_approve=pending and allowed and not mine and not decided,
        can_reject=pending and allowed and not decided,
        why_not=why_not,
        effects=sorted(effects, key=lambda m: m.idempotency_key),
    )
