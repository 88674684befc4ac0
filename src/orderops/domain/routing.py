"""Routing a case to a queue: a tenant's ordered rules, first match wins. Pure.

Each decision names the rule and the rule-set version that made it, so "why is this
case in fraud?" is answered from the timeline long after the rules have changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orderops.domain.ticket_classes import TicketClass


class QueueKind(StrEnum):
    OPS = "ops"
    SUPPORT = "support"
    FRAUD = "fraud"
    FINANCE = "finance"
    CUSTOM = "custom"


class Priority(StrEnum):
    """One vocabulary for routing, impact scoring, SLAs and the console: P1 is most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


LEGACY_PRIORITIES: dict[str, Priority] = {
    "urgent": Priority.P1,
    "high": Priority.P2,
    "normal": Priority.P3,
    "low": Priority.P4,
}
"""The words rules and queue overrides were published with before P1-P4; still accepted."""


def parse_priority(value: object) -> Priority:
    """``P1``-``P4`` (any case) or a legacy word; raise ValueError for anything else."""
    if isinstance(value, Priority):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in LEGACY_PRIORITIES:
            return LEGACY_PRIORITIES[text.lower()]
        if text.upper() in Priority.__members__:
            return Priority(text.upper())
    raise ValueError(f"unknown priority {value!r}; use P1 (most urgent) to P4")


def most_urgent(*priorities: Priority) -> Priority:
    """P1 beats P2 beats P3 beats P4."""
    return min(priorities, key=lambda p: p.value)


@dataclass(frozen=True, kw_only=True)
class RoutingInput:
    """What the rules may look at, read from the order's projected state."""

    exception_type: str
    order_value_minor: int
    fraud_risk: float | None = None
    """Highest fraud score seen for the order, 0-100; None when no signal arrived."""
    customer_tier: str | None = None
    region: str | None = None
    """ISO country of the ship-to address."""
    ticket_class: str | None = None
    """What the customer's latest classified ticket asks (domain/ticket_classes.py)."""


@dataclass(frozen=True, kw_only=True)
class Condition:
    """Every field that is set must hold; an empty condition matches everything."""

    exception_types: frozenset[str] = frozenset()
    min_order_value_minor: int | None = None
    max_order_value_minor: int | None = None
    min_fraud_risk: float | None = None
    customer_tiers: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    ticket_classes: frozenset[str] = frozenset()

    def matches(self, facts: RoutingInput) -> bool:
        value = facts.order_value_minor
        checks = (
            not self.exception_types or facts.exception_type in self.exception_types,
            self.min_order_value_minor is None or value >= self.min_order_value_minor,
            self.max_order_value_minor is None or value < self.max_order_value_minor,
            self.min_fraud_risk is None
            or (facts.fraud_risk is not None and facts.fraud_risk >= self.min_fraud_risk),
            not self.customer_tiers or facts.customer_tier in self.customer_tiers,
            not self.regions or (facts.region or "").upper() in self.regions,
            not self.ticket_classes or facts.ticket_class in self.ticket_classes,
        )
        return all(checks)


@dataclass(frozen=True, kw_only=True)
class RoutingRule:
    name: str
    queue: str
    priority: Priority = Priority.P3
    when: Condition = field(default_factory=Condition)


@dataclass(frozen=True, kw_only=True)
class RuleSet:
    version: int
    rules: tuple[RoutingRule, ...]
    fallback_queue: str = QueueKind.OPS
    fallback_priority: Priority = Priority.P3


@dataclass(frozen=True, kw_only=True)
class RoutingDecision:
    queue: str
    priority: Priority
    rule: str
    version: int


FALLBACK_RULE = "fallback"


def route(rules: RuleSet, facts: RoutingInput) -> RoutingDecision:
    """The first rule whose condition holds decides; none holding sends the case to the
    fallback queue, named as the rule "fallback" so that decision is explained too."""
    for rule in rules.rules:
        if rule.when.matches(facts):
            return RoutingDecision(
                queue=rule.queue, priority=rule.priority, rule=rule.name, version=rules.version
            )
    return RoutingDecision(
        queue=rules.fallback_queue,
        priority=rules.fallback_priority,
        rule=FALLBACK_RULE,
        version=rules.version,
    )


DEFAULT_RULES = RuleSet(
    version=0,
    rules=(
        RoutingRule(
            name="high fraud risk",
            queue=QueueKind.FRAUD,
            priority=Priority.P1,
            when=Condition(min_fraud_risk=70.0),
        ),
        RoutingRule(
            name="large failed payment",
            queue=QueueKind.FINANCE,
            priority=Priority.P2,
            when=Condition(
                exception_types=frozenset({"payment_failed"}), min_order_value_minor=50_000
            ),
        ),
        RoutingRule(
            name="failed payment",
            queue=QueueKind.FINANCE,
            when=Condition(exception_types=frozenset({"payment_failed"})),
        ),
        RoutingRule(
            name="vip customer",
            queue=QueueKind.SUPPORT,
            priority=Priority.P2,
            when=Condition(customer_tiers=frozenset({"vip"})),
        ),
        RoutingRule(
            name="customer reports damage or a wrong item",
            queue=QueueKind.SUPPORT,
            when=Condition(ticket_classes=frozenset({TicketClass.DAMAGED, TicketClass.WRONG_ITEM})),
        ),
    ),
)
"""What a tenant without rules of its own gets (version 0: never published)."""


# Rules are stored as JSON; these two functions are the only place that knows the shape.

_CONDITION_KEYS = frozenset(
    {
        "exception_types",
        "min_order_value_minor",
        "max_order_value_minor",
        "min_fraud_risk",
        "customer_tiers",
        "regions",
        "ticket_classes",
    }
)


def rule_to_dict(rule: RoutingRule) -> dict[str, Any]:
    when = rule.when
    condition: dict[str, Any] = {
        "exception_types": sorted(when.exception_types),
        "min_order_value_minor": when.min_order_value_minor,
        "max_order_value_minor": when.max_order_value_minor,
        "min_fraud_risk": when.min_fraud_risk,
        "customer_tiers": sorted(when.customer_tiers),
        "regions": sorted(when.regions),
        "ticket_classes": sorted(when.ticket_classes),
    }
    return {
        "name": rule.name,
        "queue": rule.queue,
        "priority": str(rule.priority),
        "when": {k: v for k, v in condition.items() if v not in (None, [])},
    }


def rule_from_dict(data: Mapping[str, Any]) -> RoutingRule:
    """Parse one stored or submitted rule; raise ValueError naming what is wrong."""
    name, queue = data.get("name"), data.get("queue")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a routing rule needs a name")
    if not isinstance(queue, str) or not queue.strip():
        raise ValueError(f"rule {name!r} needs a queue")
    when = data.get("when") or {}
    if not isinstance(when, Mapping):
        raise ValueError(f"rule {name!r}: 'when' must be an object")
    unknown = set(when) - _CONDITION_KEYS
    if unknown:
        raise ValueError(f"rule {name!r}: unknown condition(s) {sorted(unknown)}")
    try:
        priority = parse_priority(data.get("priority", Priority.P3))
    except ValueError as exc:
        raise ValueError(f"rule {name!r}: unknown priority {data.get('priority')!r}") from exc
    return RoutingRule(
        name=name.strip(),
        queue=queue.strip(),
        priority=priority,
        when=Condition(
            exception_types=_strings(when, "exception_types", name),
            min_order_value_minor=_minor(when, "min_order_value_minor", name),
            max_order_value_minor=_minor(when, "max_order_value_minor", name),
            min_fraud_risk=_number(when, "min_fraud_risk", name),
            customer_tiers=_strings(when, "customer_tiers", name),
            regions=frozenset(r.upper() for r in _strings(when, "regions", name)),
            ticket_classes=_ticket_classes(when, name),
        ),
    )


def rules_from_dicts(items: Sequence[Mapping[str, Any]]) -> tuple[RoutingRule, ...]:
    rules = tuple(rule_from_dict(item) for item in items)
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"rule names must be unique; repeated: {duplicates}")
    return rules


def _strings(when: Mapping[str, Any], key: str, rule: str) -> frozenset[str]:
    value = when.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"rule {rule!r}: {key} must be a list of strings")
    return frozenset(value)


def _ticket_classes(when: Mapping[str, Any], rule: str) -> frozenset[str]:
    values = _strings(when, "ticket_classes", rule)
    unknown = sorted(values - {str(c) for c in TicketClass})
    if unknown:
        raise ValueError(
            f"rule {rule!r}: unknown ticket class(es) {unknown}; "
            f"use {sorted(str(c) for c in TicketClass)}"
        )
    return values


def _number(when: Mapping[str, Any], key: str, rule: str) -> float | None:
    value = when.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"rule {rule!r}: {key} must be a number")
    return float(value)


def _minor(when: Mapping[str, Any], key: str, rule: str) -> int | None:
    value = _number(when, key, rule)
    if value is None:
        return None
    if not value.is_integer():
        raise ValueError(f"rule {rule!r}: {key} must be a whole number of minor units")
    return int(value)
