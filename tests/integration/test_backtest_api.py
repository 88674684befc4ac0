"""Backtest reports over HTTP and in the console: administrators of the tenant that ran
them read the list and each report; another tenant's run, a forged or oversized id, and
any run asked for by a caller limited by an access scope are answered as if there were
nothing (404, or 422 for an id that cannot be one; the scoped caller's list is empty);
other roles are refused (403). On SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from builders.access import Person, person
from builders.backtests import CANDIDATE, stored_run
from builders.console import console_person, signed_in
from builders.scopes import scoped_person
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import parse


def test_an_administrator_reads_the_tenants_runs_and_each_report(
    app: App, clock: FixedClock, http: TestClient, admin: Person
) -> None:
    run_id = stored_run(app, clock, order_ref="o-fraud-1")
    stored_run(app, clock, tenant="globex")

    listed = http.get("/v1/backtests", headers=admin.headers)
    one = http.get(f"/v1/backtests/{run_id}", headers=admin.headers)

    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()["items"]] == [run_id]
    assert listed.json()["items"][0]["changed_cases"] == 1
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["candidate_text"] == CANDIDATE
    assert body["policy_diff"][0]["path"] == "routing_rules.everything to ops"
    assert body["report"]["changed"]["all"]["only_candidate"] == [["o-fraud-1", "fraud_review"]]


def test_other_tenants_scoped_callers_and_forged_ids_find_nothing(
    app: App, clock: FixedClock, http: TestClient, admin: Person, agent: Person
) -> None:
    run_id = stored_run(app, clock)
    outsider = person(app, clock, tenant="globex", role=Role.ADMIN, name="gus-globex")
    scoped = scoped_person(app, clock, role=Role.ADMIN, scope=parse(["region=DE"]))

    from_globex = http.get(f"/v1/backtests/{run_id}", headers=outsider.headers)
    globex_list = http.get("/v1/backtests", headers=outsider.headers)
    from_scoped = [
        http.get(path, headers=scoped.headers)
        for path in ("/v1/backtests", f"/v1/backtests/{run_id}")
    ]
    as_agent = http.get("/v1/backtests", headers=agent.headers)
    forged = http.get(f"/v1/backtests/{run_id[:-1]}x", headers=admin.headers)
    oversized = http.get(f"/v1/backtests/{'a' * 200}", headers=admin.headers)
    odd = http.get("/v1/backtests/..%2Fadmin", headers=admin.headers)
    too_many = http.get("/v1/backtests?limit=100000", headers=admin.headers)

    assert from_globex.status_code == 404
    assert run_id not in from_globex.text
    assert globex_list.json()["items"] == []
    assert [r.status_code for r in from_scoped] == [200, 404]
    assert from_scoped[0].json()["items"] == []
    assert as_agent.status_code == 403
    assert forged.status_code == 404
    assert oversized.status_code in (404, 422)
    assert odd.status_code in (404, 422)
    assert too_many.status_code == 422


def test_the_console_pages_show_the_report_to_administrators_only(
    app: App, clock: FixedClock
) -> None:
    run_id = stored_run(app, clock, order_ref="o-fraud-1")
    other = stored_run(app, clock, tenant="globex")
    with signed_in(app, console_person(app, clock, role=Role.ADMIN)) as browser:
        listed = browser.get("/console/backtests")
        page = browser.get(f"/console/backtests/{run_id}")
        foreign = browser.get(f"/console/backtests/{other}")
    with signed_in(app, console_person(app, clock, role=Role.AGENT)) as agent_browser:
        refused = agent_browser.get("/console/backtests")

    assert listed.status_code == 200
    assert run_id in listed.text
    assert page.status_code == 200
    assert "o-fraud-1" in page.text
    assert "routing_rules.everything to ops" in page.text
    assert foreign.status_code == 404
    assert refused.status_code == 403
