"""Routing cases into queues and handing them to people, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

import orderops.storage.tables.queues  # noqa: F401  (the case-work tables)
from builders.case_work import fraud_signal, open_payment_case
from orderops.bootstrap import App
from orderops.cases.assignment import Strategy, assign_next, claim, release
from orderops.cases.conflicts import AlreadyClaimed
from orderops.cases.queues import add_member, remove_member
from orderops.cases.routing import active_rules, publish_rules, route_case
from orderops.cases.sla import TimerKind
from orderops.domain.clock import FixedClock
from orderops.domain.routing import Condition, Priority, RoutingRule
from orderops.storage.repositories.queues import queues_of
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items

EU_RULES = [
    RoutingRule(
        name="eu vip",
        queue="eu-care",
        priority=Priority.P2,
        when=Condition(regions=frozenset({"DE"}), customer_tiers=frozenset({"vip"})),
    ),
    RoutingRule(name="eu", queue="eu-ops", when=Condition(regions=frozenset({"DE", "FR"}))),
]


def route(app: App, clock: FixedClock, case_id: str) -> tuple[str, str, int]:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        decision = route_case(uow, case, now=clock.now())
        uow.commit()
    return decision.queue, decision.rule, decision.version


@pytest.mark.parametrize(
    ("facts", "queue", "priority", "rule"),
    [
        ({}, "finance", "P3", "failed payment"),
        ({"total_minor": 80_000}, "finance", "P2", "large failed payment"),
        ({"tier": "vip"}, "finance", "P3", "failed payment"),
        ({"fraud": 91.0}, "fraud", "P1", "high fraud risk"),
        ({"fraud": 20.0, "total_minor": 90_000}, "finance", "P2", "large failed payment"),
    ],
)
def test_a_case_is_routed_by_the_default_rules_and_the_entry_names_the_rule(
    app: App, clock: FixedClock, facts: dict[str, object], queue: str, priority: str, rule: str
) -> None:
    order = {k: v for k, v in facts.items() if k != "fraud"}
    score = facts.get("fraud")
    extra = [fraud_signal("o-1", clock=clock, score=float(score))] if score is not None else []  # type: ignore[arg-type]
    case_id = open_payment_case(app, clock, "o-1", extra=extra, **order)

    route(app, clock, case_id)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        placed = (case.queue, case.priority)
        routed = [
            (e.data["rule"], e.data["rules_version"], e.actor)
            for e in uow.cases.timeline(case_id)
            if e.kind == "routed"
        ]
        timer = queues_of(uow).pending_timer(case_id, TimerKind.SLA_BREACH)
        due = timer.due_at if timer is not None else None
        audit = [r.action for r in uow.audit.for_entity("case", case_id)]
    assert placed == (queue, priority)
    assert routed == [(rule, 0, "router")]
    assert "case.routed" in audit
    assert due is not None
    assert due > clock.now()


def test_published_rules_are_versioned_and_decisions_name_their_version(
    app: App, clock: FixedClock
) -> None:
    german_vip = open_payment_case(app, clock, "o-de", tier="vip", country="DE")
    french = open_payment_case(app, clock, "o-fr", country="FR")
    american = open_payment_case(app, clock, "o-us", country="US")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        first = publish_rules(uow, rules=EU_RULES, actor="admin", now=clock.now())
        second = publish_rules(uow, rules=EU_RULES[1:], actor="admin", now=clock.now())
        uow.commit()
    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow:
        globex_rules = active_rules(uow)

    assert (first, second) == (1, 2)
    assert globex_rules.version == 0  # another tenant's rules never apply here
    assert route(app, clock, german_vip) == ("eu-ops", "eu", 2)
    assert route(app, clock, french) == ("eu-ops", "eu", 2)
    assert route(app, clock, american) == ("ops", "fallback", 2)


def test_re_routing_an_unchanged_case_writes_nothing(app: App, clock: FixedClock) -> None:
    case_id = open_payment_case(app, clock, "o-1")
    route(app, clock, case_id)
    clock.advance(timedelta(minutes=5))
    route(app, clock, case_id)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        kinds = [e.kind for e in uow.cases.timeline(case_id)]
    assert kinds.count("routed") == 1


def test_a_new_fraud_signal_moves_the_case_and_drops_its_assignee(
    app: App, clock: FixedClock
) -> None:
    case_id = open_payment_case(app, clock, "o-1")
    route(app, clock, case_id)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        claim(uow, case, member="fin-al", now=clock.now())
        uow.commit()
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[fraud_signal("o-1", clock=clock, score=99.0)],
        channel="test",
        clock=clock,
    )

    assert route(app, clock, case_id) == ("fraud", "high fraud risk", 0)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        assert (case.assignee, case.priority) == (None, "P1")


def _cases_in_finance(app: App, clock: FixedClock, count: int) -> list[str]:
    ids = [open_payment_case(app, clock, f"o-{n}") for n in range(count)]
    for case_id in ids:
        route(app, clock, case_id)
    return ids


def _assign(app: App, clock: FixedClock, case_id: str, strategy: Strategy) -> str | None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        chosen = assign_next(uow, case, strategy=strategy, actor="lead", now=clock.now())
        uow.commit()
    return chosen


def _join(app: App, clock: FixedClock, *members: str) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        for member in members:
            add_member(uow, queue="finance", member=member, actor="admin", now=clock.now())
        uow.commit()


def test_round_robin_deals_cases_in_turn_and_survives_someone_leaving(
    app: App, clock: FixedClock
) -> None:
    cases = _cases_in_finance(app, clock, 5)
    _join(app, clock, "cy", "al", "bo")

    first_three = [_assign(app, clock, c, Strategy.ROUND_ROBIN) for c in cases[:3]]
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        remove_member(uow, queue="finance", member="al", actor="admin", now=clock.now())
        uow.commit()
    last_two = [_assign(app, clock, c, Strategy.ROUND_ROBIN) for c in cases[3:]]

    assert first_three == ["al", "bo", "cy"]
    assert last_two == ["bo", "cy"]


def test_least_loaded_gives_the_case_to_whoever_holds_fewest_open_cases(
    app: App, clock: FixedClock
) -> None:
    cases = _cases_in_finance(app, clock, 4)
    _join(app, clock, "al", "bo")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        for case_id in cases[:2]:
            case = uow.cases.get(case_id)
            assert case is not None
            claim(uow, case, member="al", now=clock.now())
        uow.commit()

    assert _assign(app, clock, cases[2], Strategy.LEAST_LOADED) == "bo"
    assert _assign(app, clock, cases[3], Strategy.LEAST_LOADED) == "bo"


def test_an_empty_queue_assigns_nobody(app: App, clock: FixedClock) -> None:
    (case_id,) = _cases_in_finance(app, clock, 1)

    assert _assign(app, clock, case_id, Strategy.ROUND_ROBIN) is None
    assert _assign(app, clock, case_id, Strategy.LEAST_LOADED) is None


def test_a_claimed_case_cannot_be_claimed_or_released_by_someone_else(
    app: App, clock: FixedClock
) -> None:
    case_id = open_payment_case(app, clock, "o-1")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        claim(uow, case, member="al", now=clock.now())
        with pytest.raises(AlreadyClaimed, match="held by al"):
            claim(uow, case, member="bo", now=clock.now())
        with pytest.raises(AlreadyClaimed, match="held by al"):
            release(uow, case, member="bo", now=clock.now())
        release(uow, case, member="bo", now=clock.now(), force=True)
        claim(uow, case, member="bo", now=clock.now())
        uow.commit()

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        steps = [
            (e.kind, e.actor)
            for e in uow.cases.timeline(case_id)
            if e.kind in {"claimed", "released"}
        ]
        holder = case.assignee
    assert holder == "bo"
    assert steps == [("claimed", "al"), ("released", "bo"), ("claimed", "bo")]
