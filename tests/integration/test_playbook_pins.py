"""A case keeps the playbook version it was first recommended with until someone moves it,
on SQLite and PostgreSQL: the API and the worker's pass follow the pin, a new playbook
reaches new cases only, and the explicit re-evaluation (API, CLI) is gated, audited,
tenant-bound and previewable."""

from __future__ import annotations

from typing import Any

import typer
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text
from typer.testing import CliRunner

from builders.access import Person, client, late_case, person
from builders.database_roles import owner_engine
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.commands import playbook as playbook_commands
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.recommend.auto import recommend_new_cases
from orderops.recommend.llm import LlmSettings
from orderops.recommend.playbook_pins import move_pin
from orderops.recommend.service import recommend_case
from orderops.storage.migrate import downgrade, upgrade
from orderops.storage.tables import Case
from orderops.storage.tables.recommend import Recommendation
from orderops.storage.uow import UnitOfWork


def _playbook(rule: str) -> str:
    """A one-rule playbook: which version advised a case shows in the rule's name."""
    return (
        f"name: acme\nversion: '{rule}'\ntypes:\n  shipment_late:\n    - name: {rule}\n"
        "      actions:\n        - kind: contact_customer\n"
        '          params: {subject: Sorry, body: "Sorry about {order}"}\n'
    )


def _api(app: App) -> TestClient:
    api = client(app)
    api.app.state.llm_settings = LlmSettings(enabled=False)  # type: ignore[attr-defined]
    return api


def _store(api: TestClient, admin: Person, rule: str) -> int:
    response = api.put(
        "/v1/playbook",
        headers={**admin.headers, "content-type": "text/yaml"},
        content=_playbook(rule),
    )
    assert response.status_code == 200, response.text
    version: int = response.json()["version"]
    return version


def _recommend(api: TestClient, who: Person, case_id: str) -> dict[str, Any]:
    response = api.post(f"/v1/cases/{case_id}/recommendations", headers=who.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _rules(body: dict[str, Any]) -> list[str]:
    return [c["rule"] for c in body["candidates"]]


def _pin(app: App, case_id: str, tenant: str = "acme") -> int | None:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        return uow.session.scalar(select(Case.playbook_version).where(Case.id == case_id))


def _timeline(app: App, case_id: str) -> list[tuple[str, dict[str, Any]]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return [(e.kind, e.data) for e in uow.cases.timeline(case_id)]


def test_a_case_keeps_its_playbook_until_reevaluated_and_new_cases_follow_the_newest(
    app: App, clock: FixedClock, admin: Person, agent: Person
) -> None:
    api = _api(app)
    assert _store(api, admin, "v1_sorry") == 1
    old_case = late_case(app, clock)
    first = _recommend(api, agent, old_case)
    assert _rules(first) == ["v1_sorry"]
    assert first["playbook_version"] == 1
    assert first["playbook"] == {
        "version": 1,
        "pinned": True,
        "current_version": 1,
        "newer_available": False,
    }
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        version_before = uow.session.scalar(select(Case.version).where(Case.id == old_case))

    assert _store(api, admin, "v2_sorry") == 2
    again = _recommend(api, agent, old_case)
    new_case = late_case(app, clock)
    fresh = _recommend(api, agent, new_case)

    assert _rules(again) == ["v1_sorry"]
    assert again["policy"] == "acme@v1_sorry (tenant version 1)"
    assert again["playbook"] == {
        "version": 1,
        "pinned": True,
        "current_version": 2,
        "newer_available": True,
    }
    assert _rules(fresh) == ["v2_sorry"]
    assert fresh["playbook"]["version"] == 2
    assert fresh["playbook"]["newer_available"] is False
    listed = api.get(f"/v1/cases/{old_case}/recommendations", headers=agent.headers).json()
    assert listed["playbook"]["newer_available"] is True
    assert [r["playbook_version"] for r in listed["items"]] == [1, 1]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        # pinning is not an edit: a reviewer holding the case's version is not refused
        assert uow.session.scalar(select(Case.version).where(Case.id == old_case)) == (
            version_before
        )

    moved = api.post(f"/v1/cases/{old_case}/playbook/reevaluate", headers=admin.headers)
    assert moved.status_code == 200, moved.text
    assert moved.json() == {
        "dry_run": False,
        "cases": [{"case_id": old_case, "from_version": 1, "to_version": 2, "changed": True}],
    }
    after = _recommend(api, agent, old_case)
    assert _rules(after) == ["v2_sorry"]
    assert after["playbook"]["newer_available"] is False
    reevaluated = [d for k, d in _timeline(app, old_case) if k == "playbook_reevaluated"]
    assert reevaluated == [{"from_version": 1, "to_version": 2}]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        audited = [
            (r.action, r.actor, r.data["from_version"], r.data["to_version"])
            for r in uow.audit.for_entity("case", old_case)
            if r.action == "case.playbook_reevaluated"
        ]
    assert audited == [("case.playbook_reevaluated", admin.principal.identity, 1, 2)]
    repeat = api.post(f"/v1/cases/{old_case}/playbook/reevaluate", headers=admin.headers)
    assert repeat.json()["cases"][0]["changed"] is False
    assert len([k for k, _ in _timeline(app, old_case) if k == "playbook_reevaluated"]) == 1
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def test_only_policy_managers_of_the_cases_tenant_may_move_it(
    app: App, clock: FixedClock, admin: Person, agent: Person
) -> None:
    api = _api(app)
    _store(api, admin, "v1_sorry")
    case_id = late_case(app, clock)
    _recommend(api, agent, case_id)
    _store(api, admin, "v2_sorry")
    viewer = person(app, clock, tenant="acme", role=Role.VIEWER)
    stranger = person(app, clock, tenant="globex", role=Role.ADMIN)
    path = f"/v1/cases/{case_id}/playbook/reevaluate"

    assert api.post(path, headers=viewer.headers).status_code == 403
    assert api.post(path, headers=agent.headers).status_code == 403
    assert api.post("/v1/playbook/reevaluate", headers=viewer.headers).status_code == 403
    assert api.post(path, headers=stranger.headers).status_code == 404
    everything = api.post("/v1/playbook/reevaluate", headers=stranger.headers)
    assert everything.json() == {"dry_run": False, "cases": []}  # globex has no such case
    assert api.post(path).status_code == 401
    assert api.post(f"{path}?dry_run=maybe", headers=admin.headers).status_code == 422
    nowhere = api.post("/v1/cases/no-such-case/playbook/reevaluate", headers=admin.headers)
    assert nowhere.status_code == 404
    assert _pin(app, case_id) == 1


def test_a_dry_run_lists_the_moves_and_changes_nothing_then_the_run_moves_open_cases_only(
    app: App, clock: FixedClock, admin: Person, agent: Person
) -> None:
    api = _api(app)
    _store(api, admin, "v1_sorry")
    behind = late_case(app, clock)
    closed = late_case(app, clock)
    never = late_case(app, clock)
    for case_id in (behind, closed):
        _recommend(api, agent, case_id)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(closed)
        assert case is not None
        case.status = "resolved"
        uow.commit()
    _store(api, admin, "v2_sorry")

    preview = api.post("/v1/playbook/reevaluate?dry_run=true", headers=admin.headers)
    one = api.post(f"/v1/cases/{behind}/playbook/reevaluate?dry_run=1", headers=admin.headers)

    expected = [{"case_id": behind, "from_version": 1, "to_version": 2, "changed": True}]
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"dry_run": True, "cases": expected}
    assert one.json() == {"dry_run": True, "cases": expected}
    assert (_pin(app, behind), _pin(app, closed), _pin(app, never)) == (1, 1, None)
    assert "playbook_reevaluated" not in [k for k, _ in _timeline(app, behind)]

    run = api.post("/v1/playbook/reevaluate", headers=admin.headers)
    assert run.json() == {"dry_run": False, "cases": expected}
    assert (_pin(app, behind), _pin(app, closed), _pin(app, never)) == (2, 1, None)
    refused = api.post(f"/v1/cases/{closed}/playbook/reevaluate", headers=admin.headers)
    assert refused.status_code == 409
    assert api.post("/v1/playbook/reevaluate", headers=admin.headers).json()["cases"] == []
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        runs = [r.data for r in uow.audit.for_entity("playbook", "2")]
    assert {"to_version": 2, "cases": [behind]} in runs
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def test_the_workers_pass_pins_the_current_version_and_a_later_pass_keeps_it(
    app: App, clock: FixedClock, admin: Person
) -> None:
    api = _api(app)
    _store(api, admin, "v1_sorry")
    case_id = late_case(app, clock)

    assert recommend_new_cases(app.sessions, tenant_id="acme", clock=clock) >= 1
    _store(api, admin, "v2_sorry")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        recommend_case(uow, case_id, now=clock.now(), actor="recommender")
        uow.commit()

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.execute(
            select(Recommendation.playbook_version, Recommendation.top_rule)
            .where(Recommendation.case_id == case_id)
            .order_by(Recommendation.created_at, Recommendation.id)
        ).all()
    assert [tuple(r) for r in rows] == [(1, "v1_sorry"), (1, "v1_sorry")]
    assert _pin(app, case_id) == 1


def test_a_pin_moves_only_from_the_version_the_mover_saw(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        assert move_pin(uow, case, expected=None, to=3) is True
        # a second "first recommendation" racing the first finds the pin set and keeps it
        assert move_pin(uow, case, expected=None, to=4) is False
        assert case.playbook_version == 3
        assert move_pin(uow, case, expected=2, to=5) is False
        assert move_pin(uow, case, expected=3, to=5) is True
        uow.commit()
    assert _pin(app, case_id) == 5
    assert _pin(app, case_id, tenant="globex") is None  # another tenant never sees the row


def _cli(app: App) -> typer.Typer:
    cli = typer.Typer()
    playbook_commands.register(cli, make_app=lambda: app)
    cli.command("noop")(lambda: None)  # two commands, so `playbook` stays a group
    return cli


def test_the_cli_previews_and_moves_like_the_api(
    app: App, clock: FixedClock, admin: Person, agent: Person
) -> None:
    api = _api(app)
    _store(api, admin, "v1_sorry")
    case_id = late_case(app, clock)
    _recommend(api, agent, case_id)
    _store(api, admin, "v2_sorry")
    runner = CliRunner()
    base = ["playbook", "reevaluate", "--tenant", "acme"]

    preview = runner.invoke(_cli(app), [*base, "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert f"case {case_id}: v1 -> v2 (would move)" in preview.output
    assert _pin(app, case_id) == 1
    moved = runner.invoke(_cli(app), [*base, "--case", case_id])
    assert moved.exit_code == 0, moved.output
    assert "1 case(s) moved" in moved.output
    assert _pin(app, case_id) == 2
    missing = runner.invoke(_cli(app), [*base, "--case", "nope"])
    assert missing.exit_code == 1
    assert "no case nope" in missing.output
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        actors = [
            r.actor
            for r in uow.audit.for_entity("case", case_id)
            if r.action == "case.playbook_reevaluated"
        ]
    assert actors == ["cli"]


def test_the_migration_pins_each_case_to_its_newest_recommendations_version(
    app: App, clock: FixedClock, admin: Person, agent: Person
) -> None:
    api = _api(app)
    _store(api, admin, "v1_sorry")
    moved, behind, never = (late_case(app, clock) for _ in range(3))
    _recommend(api, agent, moved)
    _recommend(api, agent, behind)
    _store(api, admin, "v2_sorry")
    api.post(f"/v1/cases/{moved}/playbook/reevaluate", headers=admin.headers)
    _recommend(api, agent, moved)

    downgrade(owner_engine(app), "0028_vendor_connections")
    down = {c["name"] for c in inspect(owner_engine(app)).get_columns("cases")}
    upgrade(owner_engine(app))

    assert "playbook_version" not in down
    # from the text each recommendation carried: the newest one's version, not the oldest
    assert (_pin(app, moved), _pin(app, behind), _pin(app, never)) == (2, 1, None)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        versions = uow.session.scalars(
            select(Recommendation.playbook_version)
            .where(Recommendation.case_id == moved)
            .order_by(Recommendation.created_at, Recommendation.id)
        ).all()
    assert list(versions) == [1, 2]
    engine = owner_engine(app)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            forced = connection.execute(
                text(
                    "SELECT relname, relforcerowsecurity FROM pg_class"
                    " WHERE relname IN ('cases', 'recommendations')"
                )
            ).all()
        assert dict(forced) == {"cases": True, "recommendations": True}
