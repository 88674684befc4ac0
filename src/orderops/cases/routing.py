"""Routing cases into queues with the tenant's published rules.

Rules are published as whole, numbered versions (never edited in place), so every
"routed" timeline entry can name the rule and the version that decided it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from orderops.cases.cases import record
from orderops.cases.queues import ensure_queue
from orderops.cases.sla import schedule_sla
from orderops.domain.cases import CaseStatus, is_open
from orderops.domain.errors import NotFound
from orderops.domain.routing import (
    DEFAULT_RULES,
    Priority,
    RoutingDecision,
    RoutingInput,
    RoutingRule,
    RuleSet,
    route,
    rule_from_dict,
    rule_to_dict,
)
from orderops.resolve.ticket_classes import latest_ticket_class
from orderops.storage.repositories.queues import queues_of
from orderops.storage.tables import Case, Customer
from orderops.storage.tables.queues import RoutingRuleRecord
from orderops.storage.uow import UnitOfWork

ROUTER_ACTOR = "router"


def publish_rules(
    uow: UnitOfWork, *, rules: Sequence[RoutingRule], actor: str, now: datetime
) -> int:
    """Store ``rules`` as the tenant's next version; return that version number."""
    repo = queues_of(uow)
    version = repo.latest_rules_version() + 1
    for position, rule in enumerate(rules):
        repo.add_rule(
            RoutingRuleRecord(
                version=version,
                position=position,
                rule=rule_to_dict(rule),
                published_by=actor,
                published_at=now,
            )
        )
    uow.audit.append(
        at=now,
        actor=actor,
        action="routing.published",
        entity_type="routing_rules",
        entity_id=str(version),
        data={"version": version, "rules": [rule_to_dict(r) for r in rules]},
    )
    return version


def active_rules(uow: UnitOfWork) -> RuleSet:
    """The newest published version, or the built-in defaults (version 0)."""
    repo = queues_of(uow)
    version = repo.latest_rules_version()
    if version == 0:
        return DEFAULT_RULES
    return RuleSet(
        version=version, rules=tuple(rule_from_dict(row.rule) for row in repo.rules(version))
    )


def routing_input(uow: UnitOfWork, case: Case) -> RoutingInput:
    """What the rules judge, read from the order's current projected state."""
    order = uow.commerce.order(case.order_id)
    if order is None:
        raise NotFound(f"case {case.id} points at a missing order {case.order_id}")
    customer = None
    if order.customer_id is not None:
        customer = uow.session.scalar(
            select(Customer).where(
                Customer.tenant_id == uow.tenant_id, Customer.id == order.customer_id
            )
        )
    scores = [
        s.score for s in uow.commerce.fraud_signals_for(order.order_ref) if s.score is not None
    ]
    country = (order.ship_to or {}).get("country")
    asked = latest_ticket_class(uow, order.order_ref)
    return RoutingInput(
        exception_type=case.exception_type,
        order_value_minor=order.total_minor,
        fraud_risk=max(scores) if scores else None,
        customer_tier=customer.tier if customer is not None else None,
        region=country.upper() if isinstance(country, str) else None,
        ticket_class=asked.ticket_class if asked is not None else None,
    )


def route_case(
    uow: UnitOfWork, case: Case, *, now: datetime, actor: str = ROUTER_ACTOR
) -> RoutingDecision:
    """Put the case in the queue and priority the rules choose, and start its SLA clock.

    Call on open and whenever the facts may have changed (reopen, new fraud signal):
    a decision that changes nothing writes nothing. A case moving queue loses its
    assignee, who works another queue.
    """
    decision = route(active_rules(uow), routing_input(uow, case))
    if (case.queue, case.priority) == (decision.queue, str(decision.priority)):
        return decision
    ensure_queue(uow, decision.queue, now=now)
    previous = case.queue
    if previous is not None and previous != decision.queue:
        case.assignee = None
    case.queue, case.priority, case.updated_at = decision.queue, decision.priority, now
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="routed",
        summary=f"Routed to {decision.queue} ({decision.priority}) by rule "
        f"'{decision.rule}' v{decision.version}",
        data={
            "queue": decision.queue,
            "priority": str(decision.priority),
            "rule": decision.rule,
            "rules_version": decision.version,
            "from_queue": previous,
        },
    )
    if is_open(CaseStatus(case.status)) and case.status != CaseStatus.SNOOZED:
        schedule_sla(uow, case, now=now)
    return decision


def set_priority(
    uow: UnitOfWork, case: Case, *, priority: Priority, actor: str, now: datetime
) -> None:
    """A person overriding the routed priority; the SLA clock restarts on the new one."""
    if case.priority == priority:
        return
    previous, case.priority, case.updated_at = case.priority, priority, now
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="prioritised",
        summary=f"Priority {previous} -> {priority}",
        data={"from": previous, "to": str(priority)},
    )
    if is_open(CaseStatus(case.status)) and case.status != CaseStatus.SNOOZED:
        schedule_sla(uow, case, now=now)
