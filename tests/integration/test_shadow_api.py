"""Shadow mode over HTTP and the command line: registering a candidate (bad files refused
by path), one at a time, administrators only, never across tenants or access scopes; the
report; promotion made by two administrators, after which the live policy is the
candidate, through the stores and audit records every policy change has. On SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from builders.access import Person, person
from builders.scopes import scoped_person
from builders.shadow import (
    FRAUD_TO_FINANCE,
    candidate_text,
    equal_candidate,
    every_section_candidate,
    lower_fraud_threshold,
    scored_order,
    store_live_policy,
)
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import parse
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork
from orderops.workflow.candidate_policy import live_policy, parse_candidate, policy_diff


def audit_actions(app: App, tenant: str = "acme") -> list[str]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        return list(uow.session.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def start(http: TestClient, who: Person, text: str) -> dict[str, object]:
    answer = http.post("/v1/shadow", json={"candidate": text}, headers=who.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


@pytest.fixture
def second_admin(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.ADMIN)


def test_promotion_needs_a_second_admin_and_then_live_is_the_candidate(
    app: App, clock: FixedClock, http: TestClient, admin: Person, second_admin: Person
) -> None:
    store_live_policy(app, clock)
    text = every_section_candidate()
    start(http, admin, text)
    proposed = http.post("/v1/shadow/promotion", headers=admin.headers)
    chain_before = audit_actions(app)

    by_proposer = http.post("/v1/shadow/promotion/approve", headers=admin.headers)
    approved = http.post("/v1/shadow/promotion/approve", headers=second_admin.headers)

    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["status"] == "promotion_proposed"
    assert by_proposer.status_code == 403
    assert audit_actions(app) != chain_before
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "promoted"
    assert sorted(approved.json()["promoted_versions"]) == [
        "approval_policy",
        "fulfillment_policy",
        "playbook",
        "routing_rules",
    ]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert policy_diff(live_policy(uow), parse_candidate(text)) == []
    new_records = audit_actions(app)[len(chain_before) :]
    assert new_records == [
        "policy.loaded",
        "approval_policy.changed",
        "routing.published",
        "playbook.stored",
        "shadow.promoted",
    ]
    assert verify_tenant(app.sessions, tenant_id="acme").ok
    assert http.get("/v1/shadow", headers=admin.headers).json()["candidate"]["status"] == (
        "promoted"
    )


def test_a_promoted_candidate_judges_new_events_as_live(
    app: App, clock: FixedClock, http: TestClient, admin: Person, second_admin: Person
) -> None:
    store_live_policy(app, clock)
    start(http, admin, lower_fraud_threshold(50))
    assert http.post("/v1/shadow/promotion", headers=admin.headers).status_code == 200
    assert (
        http.post("/v1/shadow/promotion/approve", headers=second_admin.headers).status_code == 200
    )

    scored_order(app, clock, 60)  # below the old threshold, above the promoted one

    cases = http.get("/v1/cases?exception_type=fraud_review", headers=admin.headers).json()
    assert len(cases["items"]) == 1


def test_the_report_shows_routing_differences_and_the_policy_diff(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    store_live_policy(app, clock)
    start(http, admin, candidate_text(routing_rules=FRAUD_TO_FINANCE))
    scored_order(app, clock, 90)

    body = http.get("/v1/shadow", headers=admin.headers).json()

    (fraud,) = [t for t in body["report"]["types"] if t["exception_type"] == "fraud_review"]
    assert fraud["both"] == 1
    assert fraud["changed"]["queue"] == 1
    assert fraud["examples"]["queue"][0]["candidate"] == "finance"
    assert fraud["examples"]["queue"][0]["live"] == "fraud"
    assert body["report"]["divergent"] >= 1
    assert any(d["path"].startswith("routing_rules") for d in body["policy_diff"])


def test_an_equal_candidate_reports_no_difference_and_an_empty_diff(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    store_live_policy(app, clock)
    start(http, admin, equal_candidate())
    for score in (60, 90):
        scored_order(app, clock, score)

    body = http.get("/v1/shadow", headers=admin.headers).json()

    assert body["report"]["divergent"] == 0
    assert body["policy_diff"] == []
    assert sum(t["candidate_opened"] for t in body["report"]["types"]) == 1


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("fulfillment_policy: [", "not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        ("surprise: {}\n", "surprise: is not a known section"),
        ("routing_rules: {name: x}\n", "routing_rules"),
        ("approval_policy:\n  expiry_hours: -1\n", "approval_policy"),
        ("a: &x [1]\nb: *x\n", "anchors and aliases"),
        (
            "fulfillment_policy:\n  detectors:\n    fraud_review:\n      thresholds:\n"
            "        bogus: 1\n",
            "fulfillment_policy",
        ),
    ],
)
def test_a_bad_candidate_file_is_refused_by_path_and_nothing_starts(
    app: App, http: TestClient, admin: Person, text: str, named: str
) -> None:
    before = audit_actions(app)

    answer = http.post("/v1/shadow", json={"candidate": text}, headers=admin.headers)

    assert answer.status_code == 422, answer.text
    assert named in answer.text
    assert http.get("/v1/shadow", headers=admin.headers).json()["candidate"] is None
    assert audit_actions(app) == before


def test_malformed_and_oversized_bodies_are_refused(http: TestClient, admin: Person) -> None:
    empty = http.post("/v1/shadow", json={"candidate": ""}, headers=admin.headers)
    extra = http.post("/v1/shadow", json={"candidate": "{}", "x": 1}, headers=admin.headers)
    wrong = http.post("/v1/shadow", json={"candidate": 5}, headers=admin.headers)
    huge = http.post(
        "/v1/shadow", json={"candidate": "#" * (1024 * 1024 + 1)}, headers=admin.headers
    )
    naive = http.get("/v1/shadow?since=2026-11-01T00:00:00", headers=admin.headers)

    assert [r.status_code for r in (empty, extra, wrong)] == [422, 422, 422]
    assert huge.status_code in {413, 422}
    assert naive.status_code == 422


def test_one_candidate_at_a_time_and_none_to_stop_or_promote_after_stopping(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    start(http, admin, equal_candidate())

    second = http.post("/v1/shadow", json={"candidate": "{}"}, headers=admin.headers)
    stopped = http.post("/v1/shadow/stop", headers=admin.headers)
    again = http.post("/v1/shadow/stop", headers=admin.headers)
    promote = http.post("/v1/shadow/promotion", headers=admin.headers)
    approve = http.post("/v1/shadow/promotion/approve", headers=admin.headers)
    restarted = http.post("/v1/shadow", json={"candidate": "{}"}, headers=admin.headers)

    assert second.status_code == 409
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped"
    assert [r.status_code for r in (again, promote, approve)] == [404, 404, 404]
    assert restarted.status_code == 201
    assert restarted.json()["version"] == 2
    assert audit_actions(app).count("shadow.started") == 2


def test_approving_what_nobody_proposed_and_proposing_twice_conflict(
    http: TestClient, admin: Person, second_admin: Person
) -> None:
    start(http, admin, equal_candidate())

    early = http.post("/v1/shadow/promotion/approve", headers=second_admin.headers)
    first = http.post("/v1/shadow/promotion", headers=admin.headers)
    twice = http.post("/v1/shadow/promotion", headers=second_admin.headers)

    assert early.status_code == 409
    assert first.status_code == 200
    assert twice.status_code == 409


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT, Role.APPROVER, Role.SERVICE])
def test_only_administrators_see_or_change_shadow_mode(
    app: App, clock: FixedClock, http: TestClient, admin: Person, role: Role
) -> None:
    start(http, admin, equal_candidate())
    http.post("/v1/shadow/promotion", headers=admin.headers)
    who = person(app, clock, tenant="acme", role=role)

    answers = [
        http.get("/v1/shadow", headers=who.headers),
        http.post("/v1/shadow", json={"candidate": "{}"}, headers=who.headers),
        http.post("/v1/shadow/stop", headers=who.headers),
        http.post("/v1/shadow/promotion", headers=who.headers),
        http.post("/v1/shadow/promotion/approve", headers=who.headers),
    ]

    assert [a.status_code for a in answers] == [403] * 5
    assert http.get("/v1/shadow", headers=admin.headers).json()["candidate"]["status"] == (
        "promotion_proposed"
    )


def test_another_tenant_sees_and_changes_nothing_of_acme(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    started = start(http, admin, lower_fraud_threshold(50))
    http.post("/v1/shadow/promotion", headers=admin.headers)
    globex = person(app, clock, tenant="globex", role=Role.ADMIN)
    before = audit_actions(app)

    read = http.get("/v1/shadow", headers=globex.headers)
    stop = http.post("/v1/shadow/stop", headers=globex.headers)
    approve = http.post("/v1/shadow/promotion/approve", headers=globex.headers)

    assert read.status_code == 200
    assert read.json()["candidate"] is None
    assert started["id"] not in read.text
    assert [stop.status_code, approve.status_code] == [404, 404]
    assert audit_actions(app) == before


def test_a_scoped_administrator_is_answered_as_if_there_were_nothing(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    start(http, admin, equal_candidate())
    scoped = scoped_person(app, clock, role=Role.ADMIN, scope=parse(["region=DE"]))

    read = http.get("/v1/shadow", headers=scoped.headers)
    answers = [
        http.post("/v1/shadow", json={"candidate": "{}"}, headers=scoped.headers),
        http.post("/v1/shadow/stop", headers=scoped.headers),
        http.post("/v1/shadow/promotion", headers=scoped.headers),
        http.post("/v1/shadow/promotion/approve", headers=scoped.headers),
    ]

    assert read.status_code == 200
    assert read.json() == {"candidate": None, "report": None, "policy_diff": []}
    assert [a.status_code for a in answers] == [404, 404, 404, 404]
    assert http.get("/v1/shadow", headers=admin.headers).json()["candidate"]["status"] == "active"


def test_the_command_line_runs_the_whole_lifecycle(
    app: App, clock: FixedClock, admin: Person, second_admin: Person, tmp_path: object
) -> None:
    import typer

    from orderops.commands import shadow as shadow_cli

    store_live_policy(app, clock)
    cli = typer.Typer()
    shadow_cli.register(cli, make_app=lambda: _borrowed(app))
    runner = CliRunner()
    path = tmp_path / "candidate.yaml"  # type: ignore[operator]
    path.write_text(lower_fraud_threshold(50))
    bad = tmp_path / "bad.yaml"  # type: ignore[operator]
    bad.write_text("surprise: 1\n")
    as_admin = ["--tenant", "acme", "--as", admin.user_id]

    refused = runner.invoke(cli, ["shadow", "start", *as_admin, "--candidate", str(bad)])
    started = runner.invoke(cli, ["shadow", "start", *as_admin, "--candidate", str(path)])
    scored_order(app, clock, 60)
    report = runner.invoke(cli, ["shadow", "report", "--tenant", "acme", "--json"])
    proposed = runner.invoke(cli, ["shadow", "promote", *as_admin])
    self_approved = runner.invoke(cli, ["shadow", "approve", *as_admin])
    approved = runner.invoke(
        cli, ["shadow", "approve", "--tenant", "acme", "--as", second_admin.user_id]
    )

    assert refused.exit_code == 1
    assert "surprise" in refused.output
    assert started.exit_code == 0, started.output
    assert report.exit_code == 0, report.output
    assert '"only_candidate": 1' in report.output
    assert proposed.exit_code == 0, proposed.output
    assert self_approved.exit_code == 1
    assert approved.exit_code == 0, approved.output
    assert "fulfillment_policy" in approved.output


class _borrowed:
    """The test's app for a command, left open when the command closes it."""

    def __init__(self, app: App) -> None:
        self._app = app

    def __getattr__(self, name: str) -> object:
        return getattr(self._app, name)

    def close(self) -> None:
        pass
