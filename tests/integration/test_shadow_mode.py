"""Shadow mode (issue #17 item 2): a candidate policy judged beside the live one on the
same live events, recording what it would do and doing nothing; its divergence report.
On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text

from builders.links import suggested_ticket
from builders.shadow import (
    desk_counts,
    equal_candidate,
    lower_fraud_threshold,
    notice_rule,
    quicker_silence_alarm,
    scored_items,
    scored_order,
    sooner_unpaid_alarm,
    start_candidate,
    steady_source,
    store_live_policy,
    troubled_parcel,
    unpaid_order,
)
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.scopes import UNRESTRICTED
from orderops.storage.tables.shadow import ShadowDecision
from orderops.storage.uow import UnitOfWork
from orderops.workflow import pipeline, shadow
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import process_pending
from orderops.workflow.relink import accept_suggestion
from orderops.workflow.shadow_report import DivergenceReport, read_view
from orderops.workflow.sweeps import sweep
from orderops.workflow.worker import run_once


def decisions(app: App, tenant: str = "acme") -> list[tuple[str, str, str]]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = uow.session.execute(
            select(ShadowDecision.order_ref, ShadowDecision.exception_type, ShadowDecision.status)
        )
        return sorted((r.order_ref, r.exception_type, r.status) for r in rows)


def report(app: App, clock: FixedClock) -> DivergenceReport:
    view = read_view(app.sessions, tenant_id="acme", scope=UNRESTRICTED, now=clock.now())
    assert view is not None
    return view.report


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(str(args[2]))

    event.listen(app.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(app.engine, "before_cursor_execute", note)


def test_the_candidate_changes_nothing_the_desk_does(app: App, clock: FixedClock) -> None:
    # The same events into two tenants, one running a candidate that would open more:
    # cases, messages, notices and outbox rows are the same; only acme has decisions.
    for tenant in ("acme", "globex"):
        store_live_policy(app, clock, tenant=tenant)
        notice_rule(app, clock, tenant=tenant)
    start_candidate(app, clock, lower_fraud_threshold(50))
    for tenant in ("acme", "globex"):
        for score in (60, 60, 90):
            scored_order(app, clock, score, tenant=tenant)
        for _ in range(2):
            troubled_parcel(app, clock, tenant=tenant)

    run_once(app)

    acme, globex = desk_counts(app, tenant="acme"), desk_counts(app, tenant="globex")
    assert acme.pop("ShadowDecision") >= 3
    assert globex.pop("ShadowDecision") == 0
    assert acme == globex
    assert acme["OutboxMessage"] >= 2  # the delay notices: counting them means something
    assert acme["Case"] == 3  # one fraud review (score 90), two carrier exceptions


def test_a_lower_threshold_shows_the_extra_cases_in_the_report(app: App, clock: FixedClock) -> None:
    store_live_policy(app, clock)
    start_candidate(app, clock, lower_fraud_threshold(50))
    only_candidate = [scored_order(app, clock, 60) for _ in range(3)]
    both = [scored_order(app, clock, 90) for _ in range(2)]
    below_both = scored_order(app, clock, 40)

    process_pending(app.sessions, tenant_id="acme", clock=clock)

    fraud = next(t for t in report(app, clock).types if t.exception_type == "fraud_review")
    assert (fraud.candidate_opened, fraud.live_opened) == (5, 2)
    assert (fraud.only_candidate, fraud.both, fraud.only_live) == (3, 2, 0)
    assert sorted(e["order_ref"] for e in fraud.examples["only_candidate"]) == sorted(
        only_candidate
    )
    assert below_both not in {r for r, _, _ in decisions(app)}
    assert set(both) <= {r for r, _, _ in decisions(app)}
    assert desk_counts(app)["Case"] == 2


def test_a_higher_threshold_shows_the_cases_live_opened_alone(app: App, clock: FixedClock) -> None:
    store_live_policy(app, clock)
    start_candidate(app, clock, lower_fraud_threshold(95))
    live_only = scored_order(app, clock, 80)

    process_pending(app.sessions, tenant_id="acme", clock=clock)

    fraud = next(t for t in report(app, clock).types if t.exception_type == "fraud_review")
    assert (fraud.only_live, fraud.only_candidate) == (1, 0)
    assert [e["order_ref"] for e in fraud.examples["only_live"]] == [live_only]


def test_a_candidate_equal_to_live_diverges_in_nothing(app: App, clock: FixedClock) -> None:
    store_live_policy(app, clock)
    notice_rule(app, clock)
    start_candidate(app, clock, equal_candidate())
    for score in (40, 60, 90, 95):
        scored_order(app, clock, score)
    troubled_parcel(app, clock)

    run_once(app)

    found = report(app, clock)
    assert sum(t.candidate_opened for t in found.types) >= 3
    assert found.divergent == 0
    assert [t.exception_type for t in found.types if t.divergent] == []


def test_a_case_the_candidate_would_clear_is_recorded_cleared(app: App, clock: FixedClock) -> None:
    from builders.events import cancelled

    store_live_policy(app, clock)
    start_candidate(app, clock, lower_fraud_threshold(50))
    ref = scored_order(app, clock, 60)
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[cancelled(ref, at=clock.now())],
        channel="test",
        clock=clock,
    )

    process_pending(app.sessions, tenant_id="acme", clock=clock)

    assert (ref, "fraud_review", "cleared") in decisions(app)


def test_without_a_candidate_a_chunk_asks_once_and_runs_no_shadow_code(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "CHUNK_SECONDS", 60.0)  # one chunk, however busy the machine
    store_live_policy(app, clock)
    items = [item for score in (60, 90, 95) for item in scored_items(clock, score)[1]]
    called: list[str] = []
    monkeypatch.setattr(pipeline, "judge_in_shadow", lambda *a, **k: called.append("judged"))

    with statements(app) as sent:  # nine events, one chunk
        taken = ingest_items(
            app.sessions, tenant_id="acme", items=items, channel="test", clock=clock
        )

    assert taken.accepted == 9
    assert desk_counts(app)["Case"] == 2  # the chunk judged its orders
    assert called == []
    assert len([s for s in sent if "shadow_candidates" in s]) == 1
    assert [s for s in sent if "shadow_decisions" in s] == []


def test_a_stopped_candidate_records_nothing_more(app: App, clock: FixedClock) -> None:
    store_live_policy(app, clock)
    start_candidate(app, clock, lower_fraud_threshold(50))
    scored_order(app, clock, 60)
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    shadow.stop(app.sessions, tenant_id="acme", actor="user:test", clock=clock)
    before = decisions(app)

    scored_order(app, clock, 60)
    process_pending(app.sessions, tenant_id="acme", clock=clock)

    assert len(before) == 1
    assert decisions(app) == before


def test_a_failing_shadow_judgement_leaves_the_live_event_processed(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderops.workflow import shadow_judge

    store_live_policy(app, clock)
    start_candidate(app, clock, lower_fraud_threshold(50))

    def broken(uow: UnitOfWork, *args: Any, **kwargs: Any) -> None:
        uow.session.execute(text("SELECT * FROM no_such_table"))  # a failed statement

    monkeypatch.setattr(shadow_judge, "_apply", broken)
    ref = scored_order(app, clock, 90)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.inbox.pending_ids(limit=10) == []
    assert desk_counts(app)["Case"] == 1
    assert ref.startswith("o-shadow-")
    assert decisions(app) == []


def test_with_a_candidate_each_order_s_decisions_are_read_once_a_chunk(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "CHUNK_SECONDS", 60.0)  # one chunk, however busy the machine
    store_live_policy(app, clock)
    start_candidate(app, clock, lower_fraud_threshold(50))
    items = [item for score in (60, 90, 95) for item in scored_items(clock, score)[1]]

    with statements(app) as sent:  # nine events of three orders, one chunk
        ingest_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)

    reads = [s for s in sent if s.lstrip().startswith("SELECT") and "shadow_decisions" in s]
    assert len(reads) <= 3
    assert len(decisions(app)) == 3


def test_a_sweep_records_the_candidate_s_time_based_case_at_its_own_deadline(
    app: App, clock: FixedClock
) -> None:
    # Live calls an unpaid order stuck after 6 h, the candidate after 2 h: the sweep must
    # come at the candidate's deadline, and record there what only the candidate opens.
    store_live_policy(app, clock)
    start_candidate(app, clock, sooner_unpaid_alarm(2))
    ref = unpaid_order(app, clock)
    assert decisions(app) == []  # a deadline, not an event, opens it

    clock.advance(timedelta(hours=2, minutes=1))
    sweep(app.sessions, tenant_id="acme", clock=clock)

    assert decisions(app) == [(ref, "stuck_order", "open")]
    assert desk_counts(app)["Case"] == 0  # live's deadline has not come

    clock.advance(timedelta(hours=4))
    sweep(app.sessions, tenant_id="acme", clock=clock)

    stuck = next(t for t in report(app, clock).types if t.exception_type == "stuck_order")
    assert (stuck.both, stuck.only_candidate, stuck.only_live) == (1, 0, 0)
    assert desk_counts(app)["Case"] == 1
    assert decisions(app) == [(ref, "stuck_order", "open")]


def test_the_sweep_judges_a_silent_source_with_the_candidate_s_thresholds_too(
    app: App, clock: FixedClock
) -> None:
    # 30 orders from the shop, one every 2 h: too short a habit for live (168 events),
    # enough for the candidate, which calls 6 h of quiet (3 usual gaps) silence.
    store_live_policy(app, clock)
    start_candidate(app, clock, quicker_silence_alarm())
    steady_source(app, clock, source="test://shop", events=30, every=timedelta(hours=2))

    def silence() -> list[str]:
        return [s for r, kind, s in decisions(app) if kind == "integration_silence"]

    clock.advance(timedelta(hours=5))
    sweep(app.sessions, tenant_id="acme", clock=clock)
    assert silence() == []  # not yet three gaps

    clock.advance(timedelta(hours=2))
    sweep(app.sessions, tenant_id="acme", clock=clock)
    assert silence() == ["open"]
    assert ("source:test://shop", "integration_silence", "open") in decisions(app)
    quiet = next(t for t in report(app, clock).types if t.exception_type == "integration_silence")
    assert (quiet.only_candidate, quiet.both, quiet.live_opened) == (1, 0, 0)

    steady_source(app, clock, source="test://shop", events=1, every=timedelta(hours=2))
    sweep(app.sessions, tenant_id="acme", clock=clock)
    assert silence() == ["cleared"]


def test_without_a_candidate_a_sweep_keeps_the_live_schedule(app: App, clock: FixedClock) -> None:
    store_live_policy(app, clock)
    start_candidate(app, clock, sooner_unpaid_alarm(2))
    shadow.stop(app.sessions, tenant_id="acme", actor="user:test", clock=clock)
    placed = clock.now()
    ref = unpaid_order(app, clock)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        order = uow.commerce.order_by_ref(ref)
        assert order is not None
        assert order.next_check_at == placed + timedelta(hours=6)


def test_a_case_a_link_decision_opens_is_judged_by_the_candidate_too(
    app: App, clock: FixedClock
) -> None:
    """A reviewer linking a third ticket makes the customer chasing: live opens the case
    in the link decision, not in an event's processing; the candidate used to miss it, and
    the report called it a case only live opens."""
    store_live_policy(app, clock)
    start_candidate(app, clock, equal_candidate())
    world = suggested_ticket(app, clock)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        accept_suggestion(
            uow,
            suggestion_id=world.suggestion_id,
            order_ref=world.order_a,
            actor="user:reviewer",
            now=clock.now(),
        )
        uow.commit()

    chasing = [t for t in report(app, clock).types if t.exception_type == "customer_chasing"]
    assert (world.order_a, "customer_chasing", "open") in decisions(app)
    assert [(t.live_opened, t.both, t.only_live) for t in chasing] == [(1, 1, 0)]
