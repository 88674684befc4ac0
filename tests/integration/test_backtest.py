"""Backtest: a recorded simulated window replayed under the live policy gives back the live
run, case for case and minute for minute; under a lower pre-dispatch threshold it opens
the cases that threshold implies, named by order; and neither replay touches the live
desk (beyond the stored report and its audit record) or any vendor."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from builders.database_roles import owner_sessions
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.errors import NotFound
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file, store_policy
from orderops.resolve.policy_in_force import policy_in_force
from orderops.sim import SimConfig, simulate
from orderops.storage.base import Base
from orderops.storage.uow import UnitOfWork
from orderops.workflow.backtest import get_run, run_backtest
from orderops.workflow.backtest_replay import Pace, Recorded, drive
from orderops.workflow.backtest_report import collect
from orderops.workflow.backtest_scratch import scratch_desk
from orderops.workflow.candidate_policy import parse_candidate

CONFIG = SimConfig(
    seed=11,
    days=7.0,
    history_days=0,
    orders_per_day=5,
    tenant="acme",
    rates={"pre_dispatch_delay": 0.2, "fraud_review": 0.2},
)
"""A recorded week, thin enough to replay five times in a CI test."""
PACE = Pace(sweep_every=timedelta(hours=6), tick=timedelta(hours=1))


@cache
def _events() -> list[dict[str, Any]]:
    return simulate(CONFIG).events


def _record_live_week(app: App, clock: FixedClock) -> None:
    """The simulated store fed through the live desk as it happened, worker sweeps and all."""
    clock.set(CONFIG.start)
    store_policy(
        app.sessions,
        tenant_id="acme",
        policy=load_policy_file(EXAMPLE_POLICY),
        actor="test",
        clock=clock,
    )
    recorded = [Recorded(e, datetime.fromisoformat(e["time"])) for e in _events()]
    drive(app, tenant_id="acme", recorded=recorded, clock=clock, until=CONFIG.end, pace=PACE)


def _placed_orders() -> set[str]:
    return {e["subject"] for e in _events() if e["type"] == "order.placed"}


def _counts(app: App) -> dict[str, int]:
    with owner_sessions(app)() as session:
        return {
            t.name: int(session.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def _lower_first_scan(hours: int) -> str:
    text = EXAMPLE_POLICY.read_text("utf-8").replace(
        "detectors:\n",
        f"detectors:\n  pre_dispatch_delay:\n    thresholds:\n      first_scan_hours: {hours}\n",
        1,
    )
    body = "\n".join(f"  {line}" for line in text.splitlines())
    return f"fulfillment_policy:\n{body}\n"


@pytest.fixture
def no_vendor_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every HTTP request any client would send is recorded and refused."""
    calls: list[str] = []

    def refuse(self: Any, request: httpx.Request, **_: Any) -> httpx.Response:
        calls.append(str(request.url))
        raise AssertionError(f"a backtest called out: {request.url}")

    monkeypatch.setattr(httpx.Client, "send", refuse)
    monkeypatch.setattr(httpx.AsyncClient, "send", refuse)
    return calls


def test_the_live_policy_reproduces_the_live_run_and_a_lower_threshold_names_its_new_cases(
    app: App, clock: FixedClock, no_vendor_calls: list[str]
) -> None:
    _record_live_week(app, clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        live = collect(uow)
    before = _counts(app)
    clock.set(CONFIG.end + timedelta(days=1))

    same = run_backtest(
        app,
        tenant_id="acme",
        start=CONFIG.start,
        end=CONFIG.end,
        candidate=parse_candidate(""),
        actor="test",
        pace=PACE,
    )
    lower = run_backtest(
        app,
        tenant_id="acme",
        start=CONFIG.start,
        end=CONFIG.end,
        candidate=parse_candidate(_lower_first_scan(4)),
        actor="test",
        pace=PACE,
    )

    live_cases = {k: c["opened_at"] for k, c in live.case_keys().items()}
    assert len(live_cases) >= 5, "the recorded window opens cases worth comparing"
    assert {k: c["opened_at"] for k, c in same.baseline.case_keys().items()} == live_cases
    assert {k: c["opened_at"] for k, c in same.candidate.case_keys().items()} == live_cases
    assert same.report["identical"] is True
    assert same.report["changed_cases"] == 0
    assert same.policy_diff == []
    assert same.report["events"] == len(_events())

    new = lower.report["changed"]["all"]["only_candidate"]
    assert new, "a 4-hour first-scan threshold opens pre-dispatch cases the 24-hour one did not"
    new_pre_dispatch = {order for order, t in new if t == "pre_dispatch_delay"}
    assert new_pre_dispatch, "the new cases are pre-dispatch delays (and what follows from them)"
    assert new_pre_dispatch <= _placed_orders()
    assert lower.report["changed"]["all"]["only_live"] == []
    assert lower.report["cases"]["candidate"]["pre_dispatch_delay"]["opened"] > (
        lower.report["cases"]["live"].get("pre_dispatch_delay", {}).get("opened", 0)
    )
    assert lower.policy_diff
    assert all(
        c["path"].startswith("fulfillment_policy.detectors.pre_dispatch_delay")
        for c in lower.policy_diff
    )
    examples = lower.report["changed"]["examples"]["only_candidate"]
    assert len(examples) == min(5, len(new))  # the first five of the new cases
    assert examples[0]["live"] is None
    assert examples[0]["candidate"]["opened_at"]

    after = _counts(app)
    grew = {t: after[t] - before[t] for t in after if after[t] != before[t]}
    assert grew == {"backtest_runs": 2, "audit_log": 2}, "only the reports and their audit"
    assert no_vendor_calls == []
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        stored = get_run(uow, lower.run_id or "")
        assert stored.changed_cases == lower.report["changed_cases"]
        assert stored.candidate_text == _lower_first_scan(4)
    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow, pytest.raises(NotFound):
        get_run(uow, lower.run_id or "")


def test_an_empty_window_replays_nothing_and_reports_no_difference(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    outcome = run_backtest(
        app,
        tenant_id="globex",
        start=clock.now() - timedelta(days=1),
        end=clock.now(),
        candidate=parse_candidate("routing_rules:\n  - {name: all, queue: ops}\n"),
        actor="test",
    )

    assert outcome.report["events"] == 0
    assert outcome.report["identical"] is True
    assert {c["path"] for c in outcome.policy_diff} >= {
        "routing_rules.all",
        "routing_rules.vip customer",
    }


def _store_fulfillment(app: App, clock: FixedClock, at: datetime, first_scan_hours: int) -> None:
    policy = parse_candidate(_lower_first_scan(first_scan_hours)).fulfillment
    assert policy is not None
    clock.set(at)
    store_policy(app.sessions, tenant_id="acme", policy=policy, actor="test", clock=clock)


def _first_scan_hours(desk: App) -> float | None:
    with UnitOfWork(desk.sessions, tenant_id="acme", write=False) as uow:
        found = policy_in_force(uow)
    assert found is not None
    return found.policy.detectors["pre_dispatch_delay"].thresholds["first_scan_hours"]


def test_a_replay_puts_each_policy_version_in_force_when_the_live_desk_stored_it(
    app: App, clock: FixedClock
) -> None:
    start = CONFIG.start
    _store_fulfillment(app, clock, start - timedelta(days=3), 30)
    _store_fulfillment(app, clock, start + timedelta(days=2), 20)
    _store_fulfillment(app, clock, CONFIG.end + timedelta(days=5), 10)  # after the window

    with scratch_desk(app, tenant_id="acme", start=start) as (desk, _, timeline):
        assert _first_scan_hours(desk) == 30  # what was live when the window began
        assert timeline.put_in_force(desk, start + timedelta(days=1)) == 0
        assert timeline.put_in_force(desk, start + timedelta(days=2)) == 1
        assert _first_scan_hours(desk) == 20
        assert timeline.put_in_force(desk, CONFIG.end) == 0  # today's version never was

    candidate = parse_candidate(_lower_first_scan(4))
    with scratch_desk(app, tenant_id="acme", start=start, candidate=candidate) as (desk, _, line):
        assert _first_scan_hours(desk) == 4
        assert line.put_in_force(desk, CONFIG.end + timedelta(days=9)) == 0  # the candidate's
        assert _first_scan_hours(desk) == 4
