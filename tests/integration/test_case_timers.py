"""Durable timers: SLA breaches escalate exactly once, across a restart; snoozes wake."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

import orderops.storage.tables.queues  # noqa: F401  (the case-work tables)
from builders.case_work import open_payment_case
from orderops.bootstrap import App, bootstrap
from orderops.cases.assignment import claim
from orderops.cases.conflicts import InvalidWorkRequest
from orderops.cases.queues import configure_queue
from orderops.cases.routing import route_case
from orderops.cases.sla import FiredTimer, TimerOutcome, fire_due_timers, wake_on_event
from orderops.decide.transitions import resolve, snooze, triage
from orderops.domain.clock import FixedClock
from orderops.domain.routing import Priority
from orderops.domain.sla import DEFAULT_SLA
from orderops.storage.repositories.queues import queues_of
from orderops.storage.uow import UnitOfWork

NORMAL_SLA = DEFAULT_SLA[Priority.P3]


def routed_case(app: App, clock: FixedClock, order_ref: str = "o-1") -> str:
    case_id = open_payment_case(app, clock, order_ref)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        route_case(uow, case, now=clock.now())
        claim(uow, case, member="fin-al", now=clock.now())
        uow.commit()
    return case_id


def state(app: App, case_id: str) -> dict[str, object]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        timeline = uow.cases.timeline(case_id)
        timers = queues_of(uow).timers_for(case_id)
        return {
            "status": case.status,
            "queue": case.queue,
            "assignee": case.assignee,
            "snoozed_until": case.snoozed_until,
            "kinds": [e.kind for e in timeline],
            "pending": sorted(t.kind for t in timers if t.fired_at is None),
            "outcomes": [(t.kind, t.outcome) for t in timers if t.fired_at is not None],
        }


def test_an_sla_breach_escalates_exactly_once_across_a_restart(app: App, clock: FixedClock) -> None:
    case_id = routed_case(app, clock)
    settings = app.settings
    app.close()  # the process that set the timer is gone

    clock.advance(NORMAL_SLA - timedelta(minutes=1))
    restarted = bootstrap(settings, clock=clock)
    early = fire_due_timers(restarted.sessions, tenant_id="acme", clock=clock)
    clock.advance(timedelta(minutes=2))
    results: list[list[FiredTimer]] = []
    sweepers = [
        threading.Thread(
            target=lambda: results.append(
                fire_due_timers(restarted.sessions, tenant_id="acme", clock=clock)
            )
        )
        for _ in range(2)
    ]
    for sweeper in sweepers:
        sweeper.start()
    for sweeper in sweepers:
        sweeper.join()
    again = fire_due_timers(restarted.sessions, tenant_id="acme", clock=clock)
    after = state(restarted, case_id)
    restarted.close()

    fired = [f for batch in results for f in batch]
    assert early == []
    assert [(f.case_id, f.outcome) for f in fired] == [(case_id, TimerOutcome.ESCALATED)]
    assert again == []
    assert (after["status"], after["queue"], after["assignee"]) == ("escalated", "leads", None)
    kinds = after["kinds"]
    assert isinstance(kinds, list)
    assert kinds.count("escalated") == 1
    assert kinds.count("notification") == 1
    assert after["pending"] == ["sla_breach"]  # the leads queue's own clock now runs


def test_a_breach_the_status_cannot_escalate_from_only_notifies(
    app: App, clock: FixedClock
) -> None:
    case_id = routed_case(app, clock)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        case.status = "approved"  # as the approvals workflow would leave it
        uow.commit()
    clock.advance(NORMAL_SLA)

    fired = fire_due_timers(app.sessions, tenant_id="acme", clock=clock)
    after = state(app, case_id)

    assert [f.outcome for f in fired] == [TimerOutcome.NOTIFIED]
    assert (after["status"], after["queue"]) == ("approved", "finance")
    assert "notification" in after["kinds"]  # type: ignore[operator]
    assert "escalated" not in after["kinds"]  # type: ignore[operator]


def test_a_queue_sla_override_sets_when_the_breach_fires(app: App, clock: FixedClock) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        configure_queue(
            uow, name="finance", sla_minutes={"normal": 30}, actor="admin", now=clock.now()
        )
        uow.commit()
    case_id = routed_case(app, clock)

    clock.advance(timedelta(minutes=29))
    before = fire_due_timers(app.sessions, tenant_id="acme", clock=clock)
    clock.advance(timedelta(minutes=1))
    at_due = fire_due_timers(app.sessions, tenant_id="acme", clock=clock)

    assert before == []
    assert [(f.case_id, f.outcome) for f in at_due] == [(case_id, TimerOutcome.ESCALATED)]


def test_a_resolved_case_never_escalates(app: App, clock: FixedClock) -> None:
    case_id = routed_case(app, clock)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        resolve(uow, case, actor="fin-al", now=clock.now(), reason="customer paid by phone")
        uow.commit()
    clock.advance(NORMAL_SLA * 2)

    fired = fire_due_timers(app.sessions, tenant_id="acme", clock=clock)
    after = state(app, case_id)

    assert fired == []
    assert after["pending"] == []
    assert after["outcomes"] == [("sla_breach", "cancelled")]


def _snooze(app: App, clock: FixedClock, case_id: str, **how: object) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        snooze(uow, case, actor="fin-al", now=clock.now(), **how)  # type: ignore[arg-type]
        uow.commit()


def _event_arrives(app: App, clock: FixedClock, case_id: str) -> bool:
    """What the pipeline does when it records an event on the case."""
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        woke = wake_on_event(uow, case, now=clock.now(), inbox_id="inbox-1")
        uow.commit()
    return woke


def test_a_case_snoozed_until_a_time_wakes_then_and_not_on_events(
    app: App, clock: FixedClock
) -> None:
    case_id = routed_case(app, clock)
    _snooze(app, clock, case_id, until=clock.now() + timedelta(hours=48))
    snoozed = state(app, case_id)

    clock.advance(NORMAL_SLA + timedelta(hours=1))  # past the SLA: it must not fire while snoozed
    woke_on_event = _event_arrives(app, clock, case_id)
    during = fire_due_timers(app.sessions, tenant_id="acme", clock=clock)
    clock.advance(timedelta(hours=23))
    at_wake = fire_due_timers(app.sessions, tenant_id="acme", clock=clock)
    after = state(app, case_id)

    assert (snoozed["status"], snoozed["pending"]) == ("snoozed", ["snooze_wake"])
    assert woke_on_event is False
    assert during == []
    assert [(f.kind, f.outcome) for f in at_wake] == [("snooze_wake", TimerOutcome.WOKEN)]
    assert (after["status"], after["snoozed_until"], after["pending"]) == (
        "triaged",
        None,
        ["sla_breach"],
    )
    assert after["kinds"][-2:] == ["snoozed", "woken"]  # type: ignore[index]


def test_a_case_snoozed_until_an_event_wakes_on_the_next_event(app: App, clock: FixedClock) -> None:
    case_id = routed_case(app, clock)
    _snooze(app, clock, case_id, wake_on_event=True)
    snoozed = state(app, case_id)

    clock.advance(timedelta(days=10))
    nothing_due = fire_due_timers(app.sessions, tenant_id="acme", clock=clock)
    woke = _event_arrives(app, clock, case_id)
    woke_twice = _event_arrives(app, clock, case_id)
    after = state(app, case_id)

    assert (snoozed["status"], snoozed["pending"]) == ("snoozed", [])
    assert nothing_due == []
    assert (woke, woke_twice) == (True, False)
    assert (after["status"], after["pending"]) == ("triaged", ["sla_breach"])


def test_triaging_a_snoozed_case_wakes_it_by_hand(app: App, clock: FixedClock) -> None:
    case_id = routed_case(app, clock)
    _snooze(app, clock, case_id, until=clock.now() + timedelta(hours=5), wake_on_event=True)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        triage(uow, case, actor="fin-al", now=clock.now())
        uow.commit()
    clock.advance(timedelta(hours=6))

    fired = fire_due_timers(app.sessions, tenant_id="acme", clock=clock)
    after = state(app, case_id)

    assert fired == []
    assert (after["status"], after["pending"]) == ("triaged", ["sla_breach"])
    assert ("snooze_wake", "cancelled") in after["outcomes"]  # type: ignore[operator]


@pytest.mark.parametrize(
    ("how", "complaint"),
    [
        ({}, "needs a time to wake"),
        ({"until_hours": -1}, "not in the future"),
        ({"until_hours": 0}, "not in the future"),
    ],
)
def test_a_snooze_needs_a_future_time_or_an_event(
    app: App, clock: FixedClock, how: dict[str, int], complaint: str
) -> None:
    case_id = routed_case(app, clock)
    until = clock.now() + timedelta(hours=how["until_hours"]) if "until_hours" in how else None

    with pytest.raises(InvalidWorkRequest, match=complaint):
        _snooze(app, clock, case_id, until=until)
    assert state(app, case_id)["status"] == "new"
