"""Impact scores, priorities, recurrence and SLA jeopardy on real cases, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from builders.access import key_for
from builders.incidents import Lane, customer, late_case
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.cases import jeopardy as jeopardy_sweep
from orderops.cases.impact import score_case
from orderops.cases.jeopardy import refresh_jeopardy
from orderops.cases.recurrence import recurrence_for
from orderops.cases.routing import route_case
from orderops.cases.sla import TimerKind, TimerOutcome, schedule_sla
from orderops.domain.clock import FixedClock
from orderops.domain.jeopardy import Jeopardy
from orderops.domain.roles import Role
from orderops.domain.routing import Priority
from orderops.domain.sla import DEFAULT_SLA
from orderops.storage.tables import Case
from orderops.storage.tables.queues import CaseTimer
from orderops.storage.uow import UnitOfWork


def route_and_score(app: App, clock: FixedClock, case_id: str) -> tuple[str, int, int]:
    """(priority, score, sum of the stored contributions) after routing and scoring."""
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        route_case(uow, case, now=clock.now())
        scored = score_case(uow, case, now=clock.now())
        uow.commit()
        stored = case.impact or {}
        total = sum(c["points"] for c in stored.get("contributions", []))
        assert case.impact_score == scored.score
        return case.priority, scored.score, total


def test_a_big_late_order_of_a_vip_is_p1_with_an_explanation_that_adds_up(
    app: App, clock: FixedClock
) -> None:
    vip = customer(app, at=clock.now(), tier="vip")
    case_id = late_case(app, now=clock.now(), customer_id=vip, total_minor=200_000, days_late=4)

    priority, score, total = route_and_score(app, clock, case_id)

    assert priority == Priority.P1
    assert score >= 60
    assert total == score


def test_a_small_order_keeps_the_routing_priority_when_its_impact_is_lower(
    app: App, clock: FixedClock
) -> None:
    case_id = late_case(app, now=clock.now(), total_minor=1_000, days_late=0.1)

    priority, score, total = route_and_score(app, clock, case_id)

    assert score < 20  # impact alone says P4
    assert priority == Priority.P3  # the routing fallback's floor
    assert total == score


def test_raising_the_priority_is_on_the_timeline(app: App, clock: FixedClock) -> None:
    vip = customer(app, at=clock.now(), tier="vip")
    case_id = late_case(app, now=clock.now(), customer_id=vip, total_minor=200_000, days_late=4)
    route_and_score(app, clock, case_id)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        entries = [(e.kind, e.actor) for e in uow.cases.timeline(case_id)]

    assert ("prioritised", "impact") in entries


def test_recurrence_is_counted_per_customer_sku_and_lane_over_rolling_windows(
    app: App, clock: FixedClock
) -> None:
    buyer = customer(app, at=clock.now())
    # days 0, 50 and 78 for the buyer on the ups lane; day 75 someone else on dhl
    late_case(app, now=clock.now(), customer_id=buyer, skus=("SKU-A",))
    clock.advance(timedelta(days=50))
    late_case(app, now=clock.now(), customer_id=buyer, skus=("SKU-A", "SKU-B"))
    clock.advance(timedelta(days=25))
    late_case(app, now=clock.now(), lane=Lane(carrier="dhl"), skus=("SKU-B",))
    clock.advance(timedelta(days=3))
    latest = late_case(app, now=clock.now(), customer_id=buyer, skus=("SKU-A", "SKU-B"))

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        for case in uow.session.query(Case).order_by(Case.opened_at):
            recurrence_for(uow, case, show=False)
        target = uow.cases.get(latest)
        assert target is not None
        shown = recurrence_for(uow, target)
        uow.commit()
        facts = target.facts

    skus = {s["value"]: s for s in shown["sku"]}
    assert (shown["customer"]["7d"], shown["customer"]["30d"], shown["customer"]["90d"]) == (
        1,
        2,
        3,
    )
    assert (skus["SKU-B"]["7d"], skus["SKU-B"]["30d"], skus["SKU-B"]["90d"]) == (2, 3, 3)
    assert (skus["SKU-A"]["30d"], skus["SKU-A"]["90d"]) == (2, 3)
    assert shown["lane"]["value"] == "ups:WH-1:DE"
    assert shown["lane"]["90d"] == 3
    assert facts["recurrence"] == shown


def test_jeopardy_follows_the_sla_clock_as_time_passes(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, now=clock.now(), total_minor=1_000, days_late=0.1)
    route_and_score(app, clock, case_id)
    window = DEFAULT_SLA[Priority.P3]

    def tier_after(advance: timedelta) -> tuple[int, str | None]:
        clock.advance(advance)
        changed = refresh_jeopardy(app.sessions, tenant_id="acme", clock=clock)
        with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
            case = uow.cases.get(case_id)
            assert case is not None
            return changed, case.jeopardy

    assert tier_after(timedelta(0)) == (1, Jeopardy.ON_TRACK)
    assert tier_after(timedelta(0)) == (0, Jeopardy.ON_TRACK)
    assert tier_after(window * 0.75) == (1, Jeopardy.AT_RISK)
    assert tier_after(window * 0.25) == (1, Jeopardy.BREACHED)


def test_the_sweep_reads_only_tiers_that_may_have_moved_and_lands_where_a_full_judgement_would(
    app: App, clock: FixedClock
) -> None:
    """Every state a tier can be stale in, beside settled ones; the sweep must end on the
    tier ``jeopardy_of`` gives each case, and a second look must find only running clocks."""
    now = clock.now()
    window = DEFAULT_SLA[Priority.P3]

    def case(tier: Jeopardy | None, *, clock_started: timedelta | None, breach: str | None) -> str:
        case_id = late_case(app, now=now, total_minor=1_000, days_late=0.1)
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            row = uow.cases.get(case_id)
            assert row is not None
            row.priority = "P3"
            if breach is not None:  # an earlier clock that already fired
                uow.session.add(
                    CaseTimer(
                        tenant_id="acme",
                        case_id=case_id,
                        kind=str(TimerKind.SLA_BREACH),
                        due_at=now - 2 * window,
                        created_at=now - 3 * window,
                        fired_at=now - 2 * window,
                        outcome=breach,
                    )
                )
            if clock_started is not None:
                schedule_sla(uow, row, now=now - clock_started)
            row.jeopardy = None if tier is None else str(tier)
            uow.commit()
        return case_id

    cases = {
        "never judged": case(None, clock_started=timedelta(0), breach=None),
        "clock just started": case(Jeopardy.ON_TRACK, clock_started=timedelta(0), breach=None),
        "into its last quarter": case(Jeopardy.ON_TRACK, clock_started=window * 0.8, breach=None),
        "due": case(Jeopardy.AT_RISK, clock_started=window * 1.1, breach=None),
        "re-started after a snooze": case(
            Jeopardy.BREACHED, clock_started=timedelta(0), breach=str(TimerOutcome.CANCELLED)
        ),
        "notified, no clock left": case(
            Jeopardy.ON_TRACK, clock_started=None, breach=str(TimerOutcome.NOTIFIED)
        ),
        "escalated, new clock": case(
            Jeopardy.AT_RISK, clock_started=timedelta(0), breach=str(TimerOutcome.ESCALATED)
        ),
        "clock cancelled": case(Jeopardy.AT_RISK, clock_started=None, breach=None),
        "settled on track": case(Jeopardy.ON_TRACK, clock_started=None, breach=None),
        "settled breached": case(Jeopardy.BREACHED, clock_started=window * 2, breach=None),
    }

    refresh_jeopardy(app.sessions, tenant_id="acme", clock=clock)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        stored, judged = {}, {}
        for name, case_id in cases.items():
            row = uow.cases.get(case_id)
            assert row is not None
            stored[name] = row.jeopardy
            judged[name] = str(jeopardy_sweep.jeopardy_of(uow, row, now=now))
        still_read = {r[0] for r in jeopardy_sweep._stale(uow, now=now, after="", limit=100)}
    assert stored == judged
    assert stored["into its last quarter"] == Jeopardy.AT_RISK
    assert stored["re-started after a snooze"] == Jeopardy.ON_TRACK
    assert stored["notified, no clock left"] == Jeopardy.BREACHED
    assert stored["clock cancelled"] == Jeopardy.ON_TRACK
    running = {
        "never judged",
        "clock just started",
        "into its last quarter",
        "re-started after a snooze",
    }
    assert still_read == {cases[name] for name in running}


def test_a_tier_set_between_the_sweeps_read_and_its_write_is_kept(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    case_id = late_case(app, now=clock.now(), total_minor=1_000, days_late=0.1)
    route_and_score(app, clock, case_id)
    refresh_jeopardy(app.sessions, tenant_id="acme", clock=clock)
    clock.advance(DEFAULT_SLA[Priority.P3])  # due now: the sweep will judge it breached
    read_stale = jeopardy_sweep._stale

    def an_event_lands_meanwhile(
        uow: UnitOfWork, **kwargs: Any
    ) -> list[tuple[str, str | None, datetime | None, datetime | None, bool]]:
        found = read_stale(uow, **kwargs)
        with UnitOfWork(app.sessions, tenant_id="acme") as other:
            case = other.cases.get(case_id)
            assert case is not None
            case.jeopardy = str(Jeopardy.AT_RISK)  # e.g. a re-timed SLA, written first
            other.commit()
        return found

    monkeypatch.setattr(jeopardy_sweep, "_stale", an_event_lands_meanwhile)

    assert refresh_jeopardy(app.sessions, tenant_id="acme", clock=clock) == 0
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        assert case.jeopardy == Jeopardy.AT_RISK


def test_the_queue_sorts_by_impact_and_shows_priority_and_jeopardy(
    app: App, clock: FixedClock
) -> None:
    vip = customer(app, at=clock.now(), tier="vip")
    small = late_case(app, now=clock.now(), total_minor=1_000, days_late=0.1)
    clock.advance(timedelta(minutes=1))
    big = late_case(app, now=clock.now(), customer_id=vip, total_minor=200_000, days_late=4)
    clock.advance(timedelta(minutes=1))
    unscored = late_case(app, now=clock.now())
    for case_id in (small, big):
        route_and_score(app, clock, case_id)
    refresh_jeopardy(app.sessions, tenant_id="acme", clock=clock)
    key = key_for(app, tenant_id="acme", name="r", role=Role.VIEWER, clock=clock)
    headers = {"Authorization": f"Bearer {key.secret}"}

    with TestClient(create_app(app)) as client:
        by_impact = client.get("/v1/cases", params={"sort": "impact"}, headers=headers).json()
        by_sla = client.get("/v1/cases", params={"sort": "sla"}, headers=headers).json()
        newest = client.get("/v1/cases", headers=headers).json()

    assert [c["id"] for c in by_impact["items"]] == [big, small, unscored]
    assert [c["id"] for c in by_sla["items"]] == [big, small, unscored]  # P1 due first
    assert [c["id"] for c in newest["items"]] == [unscored, big, small]
    first = by_impact["items"][0]
    assert (first["priority"], first["queue"], first["jeopardy"]) == ("P1", "support", "on_track")
    assert first["impact_score"] >= 60
