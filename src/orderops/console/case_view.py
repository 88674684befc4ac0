"""The case page's read model: the case, its order's history, decisions, messages and the
writeback progress of each approved effect, gathered in one read-only unit of work.

The timeline merges the case's own entries (decisions, messages, moves) with the order's
history from the projected state (placed, payments, scans, tickets), so a reviewer sees
what happened before the case opened too. Pipeline "event" entries are left out: the
order history already shows each of those facts with its provider time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.console.action_forms import ActionForm, OrderFacts, order_facts
from orderops.console.action_status import status_text
from orderops.console.case_facts import FactRow, SlaClock, fact_rows, sla_clock
from orderops.console.closed_cases import is_closed
from orderops.console.order_panel import OrderPanel, order_panel
from orderops.console.queue_view import sla_timers
from orderops.console.web import Viewer
from orderops.decide.actions import ActionView, DecisionView, bare_view, get_case
from orderops.decide.approvals import approvers_of, still_needed, stored_evaluation
from orderops.decide.communications import CommunicationView, history
from orderops.decide.policy_versions import pin_for
from orderops.domain.actions import ActionStatus
from orderops.domain.approval_policy import (
    ApprovalRefused,
    Approver,
    check_approval,
)
from orderops.domain.notifications import Topic, topic_of_case
from orderops.domain.roles import Permission
from orderops.recommend.factcheck import Problem
from orderops.recommend.recheck import recheck_message
from orderops.recommend.service import recommendations_for
from orderops.storage.tables import Action, Approval, Case, Order, OutboxMessage
from orderops.storage.tables.access import User
from orderops.storage.tables.tenancy import ApiKey
from orderops.storage.uow import UnitOfWork
from orderops.workflow.recommendation_apply import APPLIED
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
    status_text: str = ""
    """The action's state in words: who it waits for, where it was delivered, why it failed."""
    param_rows: list[FactRow] = field(default_factory=list)


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
    applied: dict[str, str] = field(default_factory=dict)
    """Recommendation id to the summary of its application (applied once, never again)."""
    facts_rows: list[FactRow] = field(default_factory=list)
    sla: SlaClock | None = None
    order_facts: OrderFacts | None = None
    form: ActionForm | None = None
    """The proposal form being filled (a kind chosen, or a refused proposal's input)."""
    timeline_sources: list[str] = field(default_factory=list)
    """The kinds of timeline entry the case has (its filter's choices)."""
    timeline_filter: str = ""
    panel: OrderPanel | None = None
    """The order and its customer, with links into each provider's admin."""

    def who(self, subject: str) -> str:
        return self.people.get(subject, subject)

    @property
    def topics(self) -> list[str]:
        """What a new message may be about (one voice per customer judges by it)."""
        return [t.value for t in Topic]

    @property
    def default_topic(self) -> str:
        return topic_of_case(self.case.exception_type).value

    @property
    def closed(self) -> bool:
        """Resolved or rejected: the page offers no new work (``closed_cases``)."""
        return is_closed(self.case.status)

    @property
    def impact(self) -> Any:
        """The scorer's explanation (``cases.impact``: score, priority, contributions)."""
        return self.case.impact or (self.case.facts or {}).get("impact")


def case_page(
    uow: UnitOfWork, case_id: str, *, viewer: Viewer, now: datetime, timeline_filter: str = ""
) -> CasePage:
    case = get_case(uow, case_id)
    order = uow.commerce.order(case.order_id)
    entries = uow.cases.timeline(case.id)
    timeline = [
        TimelineItem(at=e.at, source="case", kind=e.kind, summary=e.summary, actor=e.actor)
        for e in entries
        if e.kind != "event"
    ]
    panel = order_panel(uow, order, case_id=case.id) if order is not None else None
    if panel is not None:
        timeline += order_history(panel)
    timeline.sort(key=lambda t: t.at)
    sources = sorted({t.source for t in timeline})
    if timeline_filter in sources:
        timeline = [t for t in timeline if t.source == timeline_filter]
    else:
        timeline_filter = ""
    effects = list_messages(uow, OutboxFilter(case_id=case.id), limit=200).items
    actions = uow.session.scalars(
        select(Action)
        .where(Action.tenant_id == uow.tenant_id, Action.case_id == case.id)
        .order_by(Action.created_at, Action.id)
    ).all()
    people = people_of(uow)
    decided = _decisions(uow, [a.id for a in actions])
    currency = order.currency if order is not None else ""
    cards = [
        replace(
            _card(
                a,
                replace(bare_view(a), decisions=decided.get(a.id, ())),
                viewer,
                [m for m in effects if m.action_id == a.id],
                people,
            ),
            param_rows=fact_rows(a.params or {}, currency),
        )
        for a in actions
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
        people=people,
        recommendations=recommendations_for(uow, case.id),
        applied={
            str(e.data.get("recommendation_id")): e.summary for e in entries if e.kind == APPLIED
        },
        facts_rows=fact_rows(
            {k: v for k, v in (case.facts or {}).items() if k not in HIDDEN_FACTS}, currency
        ),
        sla=sla_clock(case, sla_timers(uow, [case.id]).get(case.id, ()), now=now),
        order_facts=None
        if panel is None
        else order_facts(
            uow,
            panel.order,
            payments=panel.payments,
            tracking_numbers=[p.shipment.tracking_number for p in panel.parcels],
        ),
        timeline_sources=sources,
        timeline_filter=timeline_filter,
        panel=panel,
        problems={
            m.id: recheck_message(uow, case, subject=m.subject, body=m.body, now=now).problems
            for m in messages
            if m.status not in ("sent", "sending", "delivered")
        },
    )


def order_history(panel: OrderPanel) -> list[TimelineItem]:
    """The order's story from the rows its panel already read (no queries of its own)."""
    order = panel.order
    ref = panel.name
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
    for payment in panel.payments:
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
    for parcel in panel.parcels:
        shipment = parcel.shipment
        for scan in parcel.scans:
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
    for ticket in panel.tickets:
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


def _decisions(uow: UnitOfWork, action_ids: list[str]) -> dict[str, tuple[DecisionView, ...]]:
    """Every decision on the case's actions in one query (not one per action)."""
    found: dict[str, list[DecisionView]] = {}
    if not action_ids:
        return {}
    for d in uow.session.scalars(
        select(Approval)
        .where(Approval.tenant_id == uow.tenant_id, Approval.action_id.in_(action_ids))
        .order_by(Approval.at, Approval.id)
    ):
        found.setdefault(d.action_id, []).append(
            DecisionView(
                approver=d.approver,
                role=d.role,
                decision=d.decision,
                reason=d.reason,
                at=d.at,
                bulk_id=d.bulk_id,
            )
        )
    return {k: tuple(v) for k, v in found.items()}


HIDDEN_FACTS = frozenset({"impact", "recommendations"})
"""Shown in their own sections."""


def people_of(uow: UnitOfWork) -> dict[str, str]:
    """Actor ids to what a reviewer recognises: a person's name (else email), and a key as
    the person it acts for (else the key's name)."""
    users = {
        user_id: name or email or user_id
        for user_id, name, email in uow.session.execute(
            select(User.id, User.display_name, User.email).where(User.tenant_id == uow.tenant_id)
        )
    }
    people = {f"user:{user_id}": name for user_id, name in users.items()}
    for key_id, name, user_id in uow.session.execute(
        select(ApiKey.id, ApiKey.name, ApiKey.user_id).where(ApiKey.tenant_id == uow.tenant_id)
    ):
        person = users.get(user_id) if user_id else None
        people[f"key:{key_id}"] = f"{person} (key {name})" if person else f"key {name}"
    return people


def _still_needs(row: Action, action: ActionView, viewer: Viewer) -> str | None:
    """Why the viewer's approval would not count (the approvals still missing need another
    role, a fraud analyst's say), as the server would refuse it; None when it would."""
    evaluation = stored_evaluation(row)
    prior = approvers_of(action.decisions)
    me = Approver(viewer.principal.identity, viewer.principal.role)
    refused = check_approval(evaluation, proposer=row.proposed_by, prior=prior, approver=me)
    if refused is not ApprovalRefused.CANNOT_CONTRIBUTE:
        return None
    return f"it still needs approval by: {still_needed(evaluation, prior)}"


def _card(
    row: Action,
    action: ActionView,
    viewer: Viewer,
    effects: list[OutboxMessage],
    people: dict[str, str],
) -> ActionCard:
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
    elif pending:
        why_not = _still_needs(row, action, viewer)
    return ActionCard(
        action=action,
        can_approve=pending and allowed and not mine and not decided and why_not is None,
        can_reject=pending and allowed and not decided,
        why_not=why_not,
        effects=sorted(effects, key=lambda m: m.idempotency_key),
        status_text=status_text(row, action.decisions, effects, people=people),
    )
