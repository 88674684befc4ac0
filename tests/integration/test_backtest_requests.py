"""Backtests requested over HTTP and in the console, run by a worker.

``POST /v1/backtests`` answers 202 with the run's URL and replays nothing; a bad window, a
candidate that could not be put in force and a malformed body are 422 problems naming what
is wrong, an oversized body 413, and none of them stores anything. Only administrators
who see the whole tenant may ask (other roles 403, a scoped administrator 404), and a run
is its tenant's alone. The worker claims a queued run (one worker at a time: a second
finds nothing while the lease holds), replays it with the CLI's code and writes its report,
or the reason it failed. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import undefer

from builders.access import Person, person
from builders.backtests import CANDIDATE, EVERYTHING_TO_OPS, recorded_order, request_body
from builders.console import console_person, post_form, signed_in
from builders.database_roles import owner_sessions
from builders.scopes import scoped_person
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import parse
from orderops.storage.tables import AuditRecord, BacktestRun
from orderops.workflow import backtest_requests
from orderops.workflow.backtest import NothingDelivered
from orderops.workflow.backtest_requests import LEASE, MAX_ATTEMPTS, claim_next, run_next
from orderops.workflow.worker import run_forever

PROBLEM = "application/problem+json"


def runs(app: App) -> list[BacktestRun]:
    with owner_sessions(app)() as session:
        query = select(BacktestRun).options(undefer(BacktestRun.candidate_text))
        return list(session.scalars(query.order_by(BacktestRun.created_at)))


def audited(app: App, prefix: str) -> list[tuple[str, str, str]]:
    with owner_sessions(app)() as session:
        records = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action.startswith(prefix))
            .order_by(AuditRecord.tenant_id, AuditRecord.seq)
        ).all()
    return [(r.tenant_id, r.action, r.actor) for r in records]


def test_a_request_is_queued_and_answered_202_with_the_run_s_url(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    asked = http.post("/v1/backtests", json=request_body(clock), headers=admin.headers)

    assert asked.status_code == 202, asked.text
    queued = asked.json()
    assert asked.headers["location"] == f"/v1/backtests/{queued['id']}"
    assert queued["status"] == "queued"
    assert (queued["events"], queued["changed_cases"], queued["failure"]) == (None, None, None)
    assert (queued["sweep_minutes"], queued["tick_minutes"]) == (60, 5)  # the CLI's defaults
    read = http.get(asked.headers["location"], headers=admin.headers).json()
    assert read["status"] == "queued"
    assert read["report"] == {}
    assert '"routing_rules"' in read["candidate_text"]
    listed = http.get("/v1/backtests", headers=admin.headers).json()["items"]
    assert [(r["id"], r["status"]) for r in listed] == [(queued["id"], "queued")]
    assert audited(app, "backtest.") == [("acme", "backtest.requested", admin.principal.identity)]


def _at(clock: FixedClock, **delta: float) -> str:
    return (clock.now() + timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("change", "status", "code", "says"),
    [
        ({"to": "FROM"}, 422, "invalid-window", "ends before it starts"),
        ({"from": "-100d"}, 422, "invalid-window", "longer than 92 days"),
        ({"to": "+1h"}, 422, "invalid-window", "ends in the future"),
        ({"from": "2026-11-19T00:00:00"}, 422, "invalid-request", "timezone"),
        ({"candidate": {"routing_rulez": []}}, 422, "invalid-policy", "routing_rulez"),
        (
            {"candidate": {"fulfillment_policy": {"detectors": {"nosuch": {}}}}},
            422,
            "invalid-policy",
            "nosuch",
        ),
        ({"candidate": "routing_rules: []"}, 422, "invalid-request", "candidate"),
        ({"candidate": None}, 422, "invalid-request", "candidate"),
        ({"extra": 1}, 422, "invalid-request", "extra"),
        ({"sweep_minutes": 4}, 422, "invalid-request", "sweep_minutes"),
        ({"tick_minutes": 0}, 422, "invalid-request", "tick_minutes"),
        ({"sweep_minutes": 60, "tick_minutes": 7}, 422, "invalid-request", "whole number"),
        ({"candidate": {"playbook": "x" * (1024 * 1024 + 10)}}, 422, "invalid-policy", "exceeds"),
        ({"candidate": {"playbook": "x" * (1024 * 1024 + 5000)}}, 413, "payload-too-large", ""),
    ],
)
def test_a_bad_window_candidate_or_body_is_a_problem_and_stores_nothing(
    app: App,
    clock: FixedClock,
    http: TestClient,
    admin: Person,
    change: dict[str, Any],
    status: int,
    code: str,
    says: str,
) -> None:
    body = request_body(clock)
    times = {"FROM": body["from"], "-100d": _at(clock, days=-100), "+1h": _at(clock, hours=1)}
    body |= {k: times.get(v, v) if isinstance(v, str) else v for k, v in change.items()}

    answer = http.post("/v1/backtests", json=body, headers=admin.headers)

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    problem = answer.json()
    assert problem["type"].endswith(f"/{code}")
    assert says in answer.text
    assert runs(app) == []


def test_only_whole_tenant_administrators_ask_and_each_tenant_sees_its_own(
    app: App, clock: FixedClock, http: TestClient, admin: Person, agent: Person
) -> None:
    viewer = person(app, clock, tenant="acme", role=Role.VIEWER, name="vera-viewer")
    outsider = person(app, clock, tenant="globex", role=Role.ADMIN, name="gus-globex")
    scoped = scoped_person(app, clock, role=Role.ADMIN, scope=parse(["region=DE"]))
    body = request_body(clock)

    mine = http.post("/v1/backtests", json=body, headers=admin.headers).json()["id"]
    theirs = http.post("/v1/backtests", json=body, headers=outsider.headers)
    refused = {
        "viewer": http.post("/v1/backtests", json=body, headers=viewer.headers),
        "agent": http.post("/v1/backtests", json=body, headers=agent.headers),
        "scoped": http.post("/v1/backtests", json=body, headers=scoped.headers),
        "nobody": http.post("/v1/backtests", json=body),
    }

    assert theirs.status_code == 202
    assert {who: a.status_code for who, a in refused.items()} == {
        "viewer": 403,
        "agent": 403,
        "scoped": 404,
        "nobody": 401,
    }
    assert http.get(f"/v1/backtests/{mine}", headers=outsider.headers).status_code == 404
    assert (
        http.get(f"/v1/backtests/{theirs.json()['id']}", headers=admin.headers).status_code == 404
    )
    assert [r["id"] for r in http.get("/v1/backtests", headers=admin.headers).json()["items"]] == [
        mine
    ]
    assert sorted((r.tenant_id, r.created_by) for r in runs(app)) == sorted(
        [("acme", admin.principal.identity), ("globex", outsider.principal.identity)]
    )


def test_a_retried_request_with_the_same_idempotency_key_queues_one_run(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    headers = {**admin.headers, "Idempotency-Key": "bt-7f1e"}
    first = http.post("/v1/backtests", json=request_body(clock), headers=headers)
    again = http.post("/v1/backtests", json=request_body(clock), headers=headers)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len(runs(app)) == 1


def test_the_worker_runs_a_queued_run_to_its_report(
    app: App, clock: FixedClock, http: TestClient, admin: Person, service: Person
) -> None:
    recorded_order(http, clock, service, hours_ago=3)
    paced = request_body(clock) | {"sweep_minutes": 120, "tick_minutes": 10}
    run_id = http.post("/v1/backtests", json=paced, headers=admin.headers).json()["id"]

    assert run_next(app, worker_id="worker-1") == run_id
    assert run_next(app, worker_id="worker-1") is None

    done = http.get(f"/v1/backtests/{run_id}", headers=admin.headers).json()
    assert done["status"] == "done", done["failure"]
    assert done["events"] == done["report"]["events"] == 2
    assert done["changed_cases"] == done["report"]["changed_cases"]
    assert done["finished_at"] is not None
    assert (done["sweep_minutes"], done["tick_minutes"]) == (120, 10)
    assert done["report"]["pace"]["sweep_minutes"] == 120  # replayed at the pace asked
    assert done["report"]["pace"]["tick_minutes"] == 10
    assert EVERYTHING_TO_OPS in {c["path"] for c in done["policy_diff"]}
    assert audited(app, "backtest.") == [
        ("acme", "backtest.requested", admin.principal.identity),
        ("acme", "backtest.run", backtest_requests.WORKER_ACTOR),
    ]


def test_a_claimed_run_is_one_worker_s_until_its_lease_runs_out_a_few_times_at_most(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    run_id = http.post("/v1/backtests", json=request_body(clock), headers=admin.headers).json()[
        "id"
    ]
    claims = []

    first = claim_next(app.sessions, tenant_id="acme", worker_id="w1", clock=clock)
    while_held = claim_next(app.sessions, tenant_id="acme", worker_id="w2", clock=clock)
    for worker in range(2, MAX_ATTEMPTS + 2):
        clock.advance(LEASE + timedelta(seconds=1))  # the last worker stopped
        claims.append(
            claim_next(app.sessions, tenant_id="acme", worker_id=f"w{worker}", clock=clock)
        )

    assert first is not None
    assert first.id == run_id
    assert while_held is None
    assert [c.worker_id if c else None for c in claims] == ["w2", "w3", None]
    failed = http.get(f"/v1/backtests/{run_id}", headers=admin.headers).json()
    assert failed["status"] == "failed"
    assert f"stopped {MAX_ATTEMPTS} times" in failed["failure"]


def test_a_lease_runs_in_real_seconds_where_business_time_runs_apart(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    """The demo's business clock runs 1,800 times faster than real time."""
    http.post("/v1/backtests", json=request_body(clock), headers=admin.headers)
    app.real_time = real = FixedClock(clock.now())
    held = {"clock": clock, "wall_clock": real}

    first = claim_next(app.sessions, tenant_id="acme", worker_id="w1", **held)
    clock.advance(timedelta(days=1))  # a day of the demo: 48 real seconds
    after_a_demo_day = claim_next(app.sessions, tenant_id="acme", worker_id="w2", **held)
    real.advance(LEASE + timedelta(seconds=1))
    after_the_lease = claim_next(app.sessions, tenant_id="acme", worker_id="w3", **held)

    assert first is not None
    assert after_a_demo_day is None
    assert after_the_lease is not None
    assert after_the_lease.id == first.id
    assert runs(app)[0].started_at == clock.now()  # shown on the business clock


def test_a_run_that_fails_shows_why_and_a_lost_lease_writes_nothing(
    app: App,
    clock: FixedClock,
    http: TestClient,
    admin: Person,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise NothingDelivered("a scratch desk made 1 delivery attempts")

    monkeypatch.setattr(backtest_requests, "run_backtest", refuse)
    failing = http.post("/v1/backtests", json=request_body(clock), headers=admin.headers).json()
    run_next(app, worker_id="w1")
    lost = http.post("/v1/backtests", json=request_body(clock), headers=admin.headers).json()
    claimed = claim_next(app.sessions, tenant_id="acme", worker_id="w1", clock=clock)
    clock.advance(LEASE + timedelta(seconds=1))
    taken_over = claim_next(app.sessions, tenant_id="acme", worker_id="w2", clock=clock)
    assert claimed is not None
    backtest_requests.run_claimed(app, claimed)  # w1 comes back after w2 took the run over

    failed = http.get(f"/v1/backtests/{failing['id']}", headers=admin.headers).json()
    assert failed["status"] == "failed"
    assert failed["failure"] == "backtest-delivered: a scratch desk made 1 delivery attempts"
    assert taken_over is not None
    assert taken_over.id == lost["id"]
    still = http.get(f"/v1/backtests/{lost['id']}", headers=admin.headers).json()
    assert (still["status"], still["failure"]) == ("running", None)


def test_the_console_form_queues_a_run_for_administrators_with_the_form_s_token(
    app: App, clock: FixedClock
) -> None:
    fields = {"from": request_body(clock)["from"], "to": request_body(clock)["to"]}
    with signed_in(app, console_person(app, clock, role=Role.ADMIN)) as browser:
        page = browser.get("/console/backtests")
        queued = post_form(
            browser,
            "/console/backtests",
            "/console/backtests",
            **fields,
            candidate=CANDIDATE,
            sweep_minutes="120",
            tick_minutes="10",
        )
        forged = browser.post("/console/backtests", data={**fields, "csrf": "forged"})
        uneven = post_form(
            browser,
            "/console/backtests",
            "/console/backtests",
            **fields,
            candidate="",
            sweep_minutes="60",
            tick_minutes="7",
        )
        after_uneven = browser.get("/console/backtests")
        bad = post_form(
            browser,
            "/console/backtests",
            "/console/backtests",
            **{**fields, "to": fields["from"]},
            candidate="",
        )
        listed = browser.get("/console/backtests")
        one = browser.get(f"/console/backtests/{runs(app)[0].id}")
    with signed_in(app, console_person(app, clock, role=Role.AGENT)) as agent_browser:
        refused = agent_browser.post("/console/backtests", data=fields)

    assert 'id="backtest-request"' in page.text
    assert queued.status_code == 303  # type: ignore[attr-defined]
    assert forged.status_code == 403
    assert bad.status_code == 303  # type: ignore[attr-defined]
    assert "ends before it starts" in listed.text
    assert uneven.status_code == 303  # type: ignore[attr-defined]
    assert "whole number of ticks" in after_uneven.text
    assert refused.status_code == 403
    assert [(r.status, r.candidate_text) for r in runs(app)] == [("queued", CANDIDATE)]
    assert (runs(app)[0].sweep_minutes, runs(app)[0].tick_minutes) == (120, 10)
    assert "queued" in listed.text
    assert 'id="run-status">queued' in one.text


def test_the_worker_loop_runs_a_queued_run_on_a_thread_of_its_own(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    run_id = http.post("/v1/backtests", json=request_body(clock), headers=admin.headers).json()[
        "id"
    ]
    stop = threading.Event()
    loop = threading.Thread(target=run_forever, kwargs={"app": app, "stop": stop, "interval": 0.05})
    loop.start()
    try:
        status = "queued"
        for _ in range(1200):  # a poll, not a time limit: the run replays for seconds
            status = http.get(f"/v1/backtests/{run_id}", headers=admin.headers).json()["status"]
            if status in ("done", "failed") or stop.wait(0.1):
                break
    finally:
        stop.set()
        loop.join(timeout=120)

    assert status == "done"
    assert not loop.is_alive()
