"""The case-work API: moves, versions, claims, queues, evidence and communications."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

import orderops.storage.tables.queues  # noqa: F401  (the case-work tables)
from builders.access import key_for
from builders.case_work import open_payment_case, work_api
from builders.events import payment
from orderops.bootstrap import App
from orderops.cases.routing import route_case
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items


def client_as(
    app: App, clock: FixedClock, name: str, role: Role, tenant: str = "acme"
) -> TestClient:
    key = key_for(app, tenant_id=tenant, name=name, role=role, clock=clock)
    return TestClient(work_api(app), headers={"Authorization": f"Bearer {key.secret}"})


@pytest.fixture
def al(app: App, clock: FixedClock) -> Iterator[TestClient]:
    with client_as(app, clock, "al", Role.AGENT) as client:
        yield client


@pytest.fixture
def bo(app: App, clock: FixedClock) -> Iterator[TestClient]:
    with client_as(app, clock, "bo", Role.APPROVER) as client:
        yield client


@pytest.fixture
def case_id(app: App, clock: FixedClock) -> str:
    opened = open_payment_case(app, clock, "o-1")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(opened)
        assert case is not None
        route_case(uow, case, now=clock.now())
        uow.commit()
    return opened


def version(app: App, case_id: str) -> int:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        return case.version


def move(client: TestClient, case_id: str, version: int, name: str, **body: Any) -> Any:
    return client.post(
        f"/v1/cases/{case_id}/transitions", json={"move": name, "version": version, **body}
    )


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def is_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + code)
    return body


def test_a_case_goes_through_its_life_and_each_answer_carries_its_new_version(
    al: TestClient, case_id: str, app: App, clock: FixedClock
) -> None:
    seen = version(app, case_id)
    steps = [
        ("triage", {}),
        ("snooze", {"until": (clock.now() + timedelta(hours=4)).isoformat()}),
        ("triage", {"reason": "customer called"}),
        ("escalate", {"reason": "needs a lead"}),
        ("resolve", {"reason": "refunded by phone"}),
        ("reopen", {"reason": "refund bounced"}),
    ]
    statuses = []
    for name, extra in steps:
        response = move(al, case_id, seen, name, **extra)
        body = ok(response)
        assert body["version"] > seen
        assert response.headers["etag"] == f'"{body["version"]}"'
        statuses.append(body["status"])
        seen = body["version"]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        entries = [(e.kind, e.actor) for e in uow.cases.timeline(case_id)]

    assert statuses == ["triaged", "snoozed", "triaged", "escalated", "resolved", "reopened"]
    human = [e for e in entries if e[1].startswith("user:")]  # al acts by id, not name
    assert [k for k, _ in human] == [
        "triaged",
        "snoozed",
        "triaged",
        "escalated",
        "resolved",
        "reopened",
    ]


@pytest.mark.parametrize(
    ("path", "illegal", "extra"),
    [
        ([], "reopen", {"reason": "x"}),
        ([("resolve", {"reason": "done"})], "triage", {}),
        ([("resolve", {"reason": "done"})], "snooze", {"wake_on_event": True}),
        ([("resolve", {"reason": "done"})], "escalate", {"reason": "x"}),
        ([("resolve", {"reason": "done"})], "resolve", {"reason": "again"}),
        ([("reject", {"reason": "false alarm"})], "reject", {"reason": "again"}),
        ([("escalate", {"reason": "help"})], "escalate", {"reason": "more help"}),
        ([("snooze", {"wake_on_event": True})], "reject", {"reason": "x"}),
        ([("snooze", {"wake_on_event": True})], "snooze", {"wake_on_event": True}),
    ],
)
def test_every_illegal_move_is_a_409_that_names_it_and_shows_the_case(
    al: TestClient,
    case_id: str,
    app: App,
    path: list[tuple[str, dict[str, Any]]],
    illegal: str,
    extra: dict[str, Any],
) -> None:
    for name, body in path:
        ok(move(al, case_id, version(app, case_id), name, **body))
    before = version(app, case_id)

    response = move(al, case_id, before, illegal, **extra)

    problem = is_problem(response, 409, "illegal-transition")
    current = problem["case"]
    assert problem["detail"].startswith(f"a case cannot move from {current['status']} to ")
    assert current["version"] == before == version(app, case_id)
    assert current["id"] == case_id


def test_a_stale_version_is_a_409_with_the_current_case(
    al: TestClient, case_id: str, app: App
) -> None:
    seen = version(app, case_id)
    ok(move(al, case_id, seen, "triage"))

    response = move(al, case_id, seen, "escalate", reason="stale view")

    problem = is_problem(response, 409, "stale-case")
    assert (problem["case"]["status"], problem["case"]["version"]) == (
        "triaged",
        version(app, case_id),
    )
    assert problem["case"]["version"] > seen


def test_if_match_carries_the_version_and_a_missing_one_is_refused(
    al: TestClient, case_id: str, app: App
) -> None:
    seen = version(app, case_id)
    url = f"/v1/cases/{case_id}/transitions"

    missing = al.post(url, json={"move": "triage"})
    garbled = al.post(url, json={"move": "triage"}, headers={"If-Match": "yesterday"})
    weak = al.post(url, json={"move": "triage"}, headers={"If-Match": f'W/"{seen}"'})

    is_problem(missing, 428, "http-428")
    is_problem(garbled, 400, "http-400")
    assert ok(weak)["status"] == "triaged"


@pytest.mark.parametrize("name", ["resolve", "reject", "escalate"])
def test_closing_or_escalating_needs_a_reason(
    al: TestClient, case_id: str, app: App, name: str
) -> None:
    response = move(al, case_id, version(app, case_id), name, reason="  ")

    problem = is_problem(response, 400, "invalid-work-request")
    assert "needs a reason" in problem["detail"]


def test_a_viewer_cannot_work_cases(app: App, clock: FixedClock, case_id: str) -> None:
    with client_as(app, clock, "vi", Role.VIEWER) as viewer:
        response = move(viewer, case_id, version(app, case_id), "triage")

    is_problem(response, 403, "forbidden")


def test_claims_are_exclusive_over_http(
    al: TestClient, bo: TestClient, case_id: str, app: App
) -> None:
    claimed = ok(al.post(f"/v1/cases/{case_id}/claim", json={"version": version(app, case_id)}))
    taken = bo.post(f"/v1/cases/{case_id}/claim", json={"version": claimed["version"]})
    not_his = bo.post(f"/v1/cases/{case_id}/release", json={"version": claimed["version"]})
    released = ok(al.post(f"/v1/cases/{case_id}/release", json={"version": claimed["version"]}))
    assigned = ok(
        bo.post(
            f"/v1/cases/{case_id}/assign",
            json={"version": released["version"], "assignee": "cy"},
        )
    )

    assert claimed["assignee"] == "al"
    assert is_problem(taken, 409, "already-claimed")["case"]["assignee"] == "al"
    is_problem(not_his, 409, "already-claimed")
    assert released["assignee"] is None
    assert assigned["assignee"] == "cy"


def test_queues_list_their_open_work(
    al: TestClient, case_id: str, app: App, clock: FixedClock
) -> None:
    second = open_payment_case(app, clock, "o-2")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(second)
        assert case is not None
        route_case(uow, case, now=clock.now())
        uow.commit()
    ok(al.post(f"/v1/cases/{case_id}/claim", json={"version": version(app, case_id)}))
    ok(move(al, second, version(app, second), "escalate", reason="stuck"))

    listed = ok(al.get("/v1/queues"))["items"]

    by_name = {q["name"]: q for q in listed}
    assert {k: by_name["finance"][k] for k in ("open", "unassigned", "escalated")} == {
        "open": 1,
        "unassigned": 0,
        "escalated": 0,
    }
    assert {k: by_name["leads"][k] for k in ("open", "unassigned", "escalated")} == {
        "open": 1,
        "unassigned": 1,
        "escalated": 1,
    }


def test_evidence_is_stored_once_and_served_verified(
    al: TestClient, case_id: str, app: App, clock: FixedClock
) -> None:
    content = b"%PDF-1.4 carrier claim form"
    url = f"/v1/cases/{case_id}/evidence"
    headers = {"Content-Type": "application/pdf"}

    first = al.post(url, content=content, headers=headers, params={"filename": "claim.pdf"})
    second = al.post(url, content=content, headers=headers, params={"filename": "again.pdf"})
    sha = first.json()["sha256"]
    download = al.get(f"/v1/evidence/{sha}")
    files = [p for p in (app.settings.data_dir / "evidence").rglob("*") if p.is_file()]
    with client_as(app, clock, "gl", Role.AGENT, tenant="globex") as stranger:
        elsewhere = stranger.get(f"/v1/evidence/{sha}")

    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.json()["deduplicated"], second.json()["deduplicated"]) == (False, True)
    assert second.json()["sha256"] == sha
    assert len(files) == 1
    assert download.status_code == 200
    assert (download.content, download.headers["content-type"]) == (content, "application/pdf")
    assert elsewhere.status_code == 404


def test_tampered_evidence_is_refused_on_read(al: TestClient, case_id: str, app: App) -> None:
    sha = al.post(f"/v1/cases/{case_id}/evidence", content=b"original").json()["sha256"]
    (stored,) = [p for p in (app.settings.data_dir / "evidence").rglob(sha)]
    stored.chmod(0o644)
    stored.write_bytes(b"forged")

    response = al.get(f"/v1/evidence/{sha}")

    problem = is_problem(response, 500, "evidence-tampered")
    assert "altered" in problem["detail"]
    assert b"forged" not in response.content


def test_snapshots_freeze_the_facts_and_change_only_when_they_do(
    al: TestClient, case_id: str, app: App, clock: FixedClock
) -> None:
    first = al.post(f"/v1/cases/{case_id}/snapshots").json()["sha256"]
    unchanged = al.post(f"/v1/cases/{case_id}/snapshots").json()["sha256"]
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[payment("o-1", status="failed", at=clock.now(), payment_ref="pi_retry")],
        channel="test",
        clock=clock,
    )
    changed = al.post(f"/v1/cases/{case_id}/snapshots").json()["sha256"]
    frozen = al.get(f"/v1/evidence/{first}").json()

    assert unchanged == first
    assert changed != first
    assert frozen["order"]["order_ref"] == "o-1"
    assert [p["payment_ref"] for p in frozen["payments"]] == ["pi_o-1"]
    assert frozen["stock"][0]["sku"] == "SKU-1"


def test_communications_keep_their_history_in_order(
    al: TestClient, bo: TestClient, case_id: str
) -> None:
    drafted = al.post(
        f"/v1/cases/{case_id}/communications",
        json={"recipient": "o-1@example.com", "subject": "Your payment", "body": "Hello,"},
    )
    message = drafted.json()
    url = f"/v1/communications/{message['id']}"
    edited = ok(al.patch(url, json={"version": message["version"], "body": "Hello, please retry."}))
    self_approval = al.post(f"{url}/approve", json={"version": edited["version"]})
    approved = ok(bo.post(f"{url}/approve", json={"version": edited["version"]}))
    stale = al.post(f"{url}/send", json={"version": edited["version"]})
    sent = ok(al.post(f"{url}/send", json={"version": approved["version"]}))
    too_late = al.patch(url, json={"version": sent["version"], "body": "changed my mind"})
    listed = ok(al.get(f"/v1/cases/{case_id}/communications"))["items"]

    assert drafted.status_code == 201
    is_problem(self_approval, 403, "forbidden")
    is_problem(stale, 409, "stale-communication")
    assert is_problem(too_late, 409, "illegal-transition")["communication"]["status"] == "sending"
    assert [m["id"] for m in listed] == [message["id"]]
    history = [(h["step"], h["actor"], h["body"]) for h in listed[0]["history"]]
    al_id, bo_id = history[0][1], history[2][1]  # who acted, by id (not display name)
    assert al_id.startswith("user:")
    assert bo_id.startswith("user:")
    assert al_id != bo_id
    assert history == [
        ("drafted", al_id, "Hello,"),
        ("edited", al_id, "Hello, please retry."),
        ("approved", bo_id, "Hello, please retry."),
        ("sent", al_id, "Hello, please retry."),
    ]
    assert listed[0]["status"] == "sending"  # queued; the worker delivers it


def test_another_tenant_cannot_touch_the_case(app: App, clock: FixedClock, case_id: str) -> None:
    before = version(app, case_id)
    with client_as(app, clock, "gl", Role.ADMIN, tenant="globex") as stranger:
        moved = move(stranger, case_id, before, "triage")
        drafted = stranger.post(f"/v1/cases/{case_id}/communications", json={"body": "hi"})

    assert moved.status_code == 404
    assert drafted.status_code == 404
    assert version(app, case_id) == before


def test_admins_publish_rules_and_staff_queues_over_http(
    app: App, clock: FixedClock, al: TestClient
) -> None:
    rules = [
        {"name": "german orders", "queue": "de-desk", "when": {"regions": ["de"]}},
        {"name": "everything else", "queue": "ops", "priority": "low"},
    ]
    with client_as(app, clock, "ad", Role.ADMIN) as admin:
        before = ok(admin.get("/v1/routing-rules"))
        published = admin.post("/v1/routing-rules", json={"rules": rules})
        bad = admin.post("/v1/routing-rules", json={"rules": [{"name": "x"}]})
        configured = ok(admin.put("/v1/queues/de-desk", json={"sla_minutes": {"normal": 45}}))
        joined = admin.put("/v1/queues/de-desk/members/al")
        not_admin = al.post("/v1/routing-rules", json={"rules": rules})
    case_id = open_payment_case(app, clock, "o-de", country="DE")
    routed = ok(al.post(f"/v1/cases/{case_id}/route", json={"version": version(app, case_id)}))
    assigned = ok(
        al.post(
            f"/v1/cases/{case_id}/assign",
            json={"version": routed["version"], "strategy": "round_robin"},
        )
    )

    assert before["version"] == 0
    assert published.status_code == 201
    assert published.json()["version"] == 1
    assert published.json()["rules"][0]["when"] == {"regions": ["DE"]}
    assert "needs a queue" in is_problem(bad, 400, "invalid-work-request")["detail"]
    assert (configured["name"], configured["kind"], configured["escalation_queue"]) == (
        "de-desk",
        "custom",
        "leads",
    )
    assert joined.status_code == 204
    is_problem(not_admin, 403, "forbidden")
    assert (routed["queue"], routed["priority"]) == ("de-desk", "P3")
    assert assigned["assignee"] == "al"
