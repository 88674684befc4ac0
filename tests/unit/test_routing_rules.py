"""Routing rules, SLAs and member choice as tables: first match wins, every decision is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderops.domain.assignment import least_loaded, next_round_robin
from orderops.domain.routing import (
    DEFAULT_RULES,
    FALLBACK_RULE,
    Condition,
    Priority,
    RoutingInput,
    RoutingRule,
    RuleSet,
    most_urgent,
    parse_priority,
    route,
    rule_from_dict,
    rule_to_dict,
    rules_from_dicts,
)
from orderops.domain.sla import DEFAULT_SLA, sla_due, sla_for

TENANT_RULES = RuleSet(
    version=3,
    rules=(
        RoutingRule(
            name="fraud",
            queue="fraud",
            priority=Priority.P1,
            when=Condition(min_fraud_risk=80.0),
        ),
        RoutingRule(
            name="big money",
            queue="finance",
            priority=Priority.P2,
            when=Condition(min_order_value_minor=100_000),
        ),
        RoutingRule(
            name="eu late",
            queue="eu-ops",
            when=Condition(
                exception_types=frozenset({"shipment_late"}), regions=frozenset({"DE", "FR"})
            ),
        ),
        RoutingRule(
            name="vip",
            queue="support",
            priority=Priority.P2,
            when=Condition(customer_tiers=frozenset({"vip"})),
        ),
        RoutingRule(
            name="small orders",
            queue="ops",
            priority=Priority.P4,
            when=Condition(max_order_value_minor=1_000),
        ),
    ),
    fallback_queue="ops",
)


def facts(**overrides: Any) -> RoutingInput:
    values: dict[str, Any] = {
        "exception_type": "payment_failed",
        "order_value_minor": 5_000,
        "fraud_risk": None,
        "customer_tier": "standard",
        "region": "US",
    }
    return RoutingInput(**{**values, **overrides})


@pytest.mark.parametrize(
    ("overrides", "queue", "priority", "rule"),
    [
        ({"fraud_risk": 95.0, "order_value_minor": 500_000}, "fraud", Priority.P1, "fraud"),
        ({"fraud_risk": 80.0}, "fraud", Priority.P1, "fraud"),
        ({"fraud_risk": 79.9, "order_value_minor": 100_000}, "finance", Priority.P2, "big money"),
        ({"order_value_minor": 99_999, "customer_tier": "vip"}, "support", Priority.P2, "vip"),
        ({"exception_type": "shipment_late", "region": "de"}, "eu-ops", Priority.P3, "eu late"),
        (
            {"exception_type": "shipment_late", "region": "US"},
            "ops",
            Priority.P3,
            FALLBACK_RULE,
        ),
        (
            {"exception_type": "payment_failed", "region": "DE"},
            "ops",
            Priority.P3,
            FALLBACK_RULE,
        ),
        ({"order_value_minor": 999}, "ops", Priority.P4, "small orders"),
        ({"order_value_minor": 1_000}, "ops", Priority.P3, FALLBACK_RULE),
        ({"region": None, "customer_tier": None}, "ops", Priority.P3, FALLBACK_RULE),
    ],
)
def test_the_first_matching_rule_decides_and_is_named(
    overrides: dict[str, Any], queue: str, priority: Priority, rule: str
) -> None:
    decision = route(TENANT_RULES, facts(**overrides))

    assert (decision.queue, decision.priority, decision.rule) == (queue, priority, rule)
    assert decision.version == 3


@pytest.mark.parametrize(
    ("overrides", "queue", "rule"),
    [
        ({"fraud_risk": 70.0}, "fraud", "high fraud risk"),
        ({"order_value_minor": 50_000}, "finance", "large failed payment"),
        ({}, "finance", "failed payment"),
        ({"exception_type": "shipment_late", "customer_tier": "vip"}, "support", "vip customer"),
        ({"exception_type": "shipment_late"}, "ops", FALLBACK_RULE),
    ],
)
def test_tenants_without_rules_get_the_defaults(
    overrides: dict[str, Any], queue: str, rule: str
) -> None:
    decision = route(DEFAULT_RULES, facts(**overrides))

    assert (decision.queue, decision.rule, decision.version) == (queue, rule, 0)


def test_rules_survive_their_stored_form() -> None:
    stored = [rule_to_dict(r) for r in TENANT_RULES.rules]

    assert rules_from_dicts(stored) == TENANT_RULES.rules
    assert stored[0] == {
        "name": "fraud",
        "queue": "fraud",
        "priority": "P1",
        "when": {"min_fraud_risk": 80.0},
    }


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"queue": "ops"}, "needs a name"),
        ({"name": "x"}, "needs a queue"),
        ({"name": "x", "queue": "ops", "priority": "whenever"}, "unknown priority"),
        ({"name": "x", "queue": "ops", "when": {"colour": ["red"]}}, "unknown condition"),
        ({"name": "x", "queue": "ops", "when": {"regions": "DE"}}, "list of strings"),
        ({"name": "x", "queue": "ops", "when": {"min_fraud_risk": "high"}}, "must be a number"),
        ({"name": "x", "queue": "ops", "when": {"min_order_value_minor": 10.5}}, "whole number"),
        ({"name": "x", "queue": "ops", "when": ["exception_types"]}, "must be an object"),
    ],
)
def test_malformed_rules_are_refused_with_the_reason(data: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        rule_from_dict(data)


def test_rule_names_are_unique_within_a_version() -> None:
    rule = {"name": "same", "queue": "ops"}

    with pytest.raises(ValueError, match="repeated"):
        rules_from_dicts([rule, rule])


T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("priority", "overrides", "expected"),
    [
        (Priority.P1, {}, DEFAULT_SLA[Priority.P1]),
        (Priority.P4, {}, DEFAULT_SLA[Priority.P4]),
        (Priority.P1, {"P1": 15}, timedelta(minutes=15)),
        (Priority.P3, {"P1": 15}, DEFAULT_SLA[Priority.P3]),
        (Priority.P1, {"urgent": 15}, timedelta(minutes=15)),
        (Priority.P2, {"high": 20, "P2": 25}, timedelta(minutes=25)),
    ],
)
def test_a_queue_may_override_the_sla_of_a_priority(
    priority: Priority, overrides: dict[str, int], expected: timedelta
) -> None:
    assert sla_for(priority, overrides) == expected
    assert sla_due(T, priority, overrides) == T + expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("P1", Priority.P1),
        ("p4", Priority.P4),
        ("urgent", Priority.P1),
        ("High", Priority.P2),
        ("normal", Priority.P3),
        ("low", Priority.P4),
    ],
)
def test_priorities_are_p1_to_p4_and_legacy_words_still_parse(
    given: str, expected: Priority
) -> None:
    assert parse_priority(given) == expected


@pytest.mark.parametrize("given", ["P0", "P5", "critical", "", 1])
def test_anything_else_is_not_a_priority(given: object) -> None:
    with pytest.raises(ValueError, match="unknown priority"):
        parse_priority(given)


def test_a_rule_published_with_a_legacy_word_reads_as_its_p_level() -> None:
    rule = rule_from_dict({"name": "x", "queue": "ops", "priority": "urgent"})

    assert rule.priority is Priority.P1
    assert rule_to_dict(rule)["priority"] == "P1"


def test_most_urgent_picks_the_lowest_p_number() -> None:
    assert most_urgent(Priority.P3, Priority.P2, Priority.P4) is Priority.P2


def test_urgent_work_is_due_sooner_than_low_work() -> None:
    ordered = [DEFAULT_SLA[p] for p in (Priority.P1, Priority.P2, Priority.P3, Priority.P4)]

    assert ordered == sorted(ordered)
    assert len(set(ordered)) == 4


@pytest.mark.parametrize(
    ("members", "last", "expected"),
    [
        (["bo", "al", "cy"], None, "al"),
        (["bo", "al", "cy"], "al", "bo"),
        (["bo", "al", "cy"], "cy", "al"),
        (["al", "cy"], "bo", "cy"),  # bo left the queue: the rotation carries on after him
        (["al"], "al", "al"),
        ([], "al", None),
    ],
)
def test_round_robin_takes_the_next_name_and_wraps(
    members: list[str], last: str | None, expected: str | None
) -> None:
    assert next_round_robin(members, last) == expected


@pytest.mark.parametrize(
    ("loads", "expected"),
    [
        ({"al": 3, "bo": 1, "cy": 2}, "bo"),
        ({"al": 1, "bo": 1}, "al"),
        ({"cy": 0, "al": 0}, "al"),
        ({}, None),
    ],
)
def test_least_loaded_takes_the_idlest_member(loads: dict[str, int], expected: str | None) -> None:
    assert least_loaded(loads) == expected
