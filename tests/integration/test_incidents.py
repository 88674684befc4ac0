"""Storm hygiene on both databases: a storm becomes one incident, the collapsed queue shows
one row, incidents close with their last case, and tenants never see each other's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import key_for
from builders.incidents import Lane, late_case
from orderops.api import incidents as incidents_api
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.cases.incidents import (
    attach_to_incident,
    close_finished_incidents,
    release_from_incident,
)
from orderops.domain.cases import CaseStatus
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.root_causes import DEFAULT_STORM_RULE
from orderops.storage.tables import Case
from orderops.storage.tables.incidents import Incident
from orderops.storage.uow import UnitOfWork

STORM = 50


def attach(app: App, clock: FixedClock, case_id: str, tenant_id: str = "acme") -> str | None:
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        incident = attach_to_incident(uow, case, now=clock.now())
        uow.commit()
        return incident.id if incident else None


def storm(app: App, clock: FixedClock, n: int, *, tenant_id: str = "acme") -> list[str]:
    """``n`` late cases on one stalled lane, opened a minute apart, each attached on open."""
    ids = []
    for _ in range(n):
        clock.advance(timedelta(minutes=1))
        case_id = late_case(app, now=clock.now(), tenant_id=tenant_id)
        attach(app, clock, case_id, tenant_id)
        ids.append(case_id)
    return ids


def incident_rows(app: App, tenant_id: str = "acme") -> list[tuple[str, datetime | None]]:
    """(id, closed_at) of the tenant's incidents."""
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.execute(
            select(Incident.id, Incident.closed_at).where(Incident.tenant_id == tenant_id)
        )
        return [(row[0], row[1]) for row in rows]


def incident_of(app: App, case_id: str, tenant_id: str = "acme") -> str | None:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        return case.incident_id


@pytest.fixture
def client(app: App, clock: FixedClock) -> Iterator[TestClient]:
    api = create_app(app)
    api.include_router(incidents_api.router)
    with TestClient(api) as test_client:
        yield test_client


def reader(app: App, clock: FixedClock, tenant_id: str) -> dict[str, str]:
    key = key_for(app, tenant_id=tenant_id, name="r", role=Role.VIEWER, clock=clock)
    return {"Authorization": f"Bearer {key.secret}"}


def test_a_storm_of_late_cases_on_one_lane_becomes_one_incident(
    app: App, clock: FixedClock
) -> None:
    ids = storm(app, clock, STORM)

    incidents = {incident_of(app, i) for i in ids}
    assert len(incidents) == 1
    assert None not in incidents
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (incident,) = uow.session.query(Incident).all()
        assert incident.case_count == STORM
        assert incident.key == "shipment_late|lane:ups:WH-1:DE"
        assert incident.closed_at is None
        kinds = [e.kind for e in uow.cases.timeline(ids[0])]
    assert kinds.count("incident_attached") == 1


def test_fewer_cases_than_the_rule_asks_for_stay_ungrouped(app: App, clock: FixedClock) -> None:
    ids = storm(app, clock, DEFAULT_STORM_RULE.min_cases - 1)

    assert [incident_of(app, i) for i in ids] == [None] * len(ids)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.session.query(Incident).count() == 0


def test_cases_on_other_lanes_or_outside_the_window_are_not_grouped(
    app: App, clock: FixedClock
) -> None:
    old = [late_case(app, now=clock.now()) for _ in range(3)]
    for case_id in old:
        attach(app, clock, case_id)
    clock.advance(DEFAULT_STORM_RULE.window + timedelta(minutes=1))
    other_lane = late_case(app, now=clock.now(), lane=Lane(carrier="dhl"))
    attach(app, clock, other_lane)
    recent = storm(app, clock, DEFAULT_STORM_RULE.min_cases - 1)

    assert {incident_of(app, i) for i in [*old, other_lane, *recent]} == {None}


def test_the_collapsed_queue_shows_one_row_for_the_storm_plus_ungrouped_cases(
    app: App, clock: FixedClock, client: TestClient
) -> None:
    ids = storm(app, clock, STORM)
    lone = late_case(app, now=clock.now(), lane=Lane(carrier="dhl"))
    attach(app, clock, lone)
    headers = reader(app, clock, "acme")

    full = client.get(
        "/v1/cases", params={"open": True, "limit": 200, "count": True}, headers=headers
    ).json()
    collapsed = client.get(
        "/v1/cases",
        params={"open": True, "collapse_incidents": True, "count": True},
        headers=headers,
    ).json()

    assert full["total"] == STORM + 1
    assert collapsed["total"] == 2
    rows = {row["id"]: row for row in collapsed["items"]}
    assert lone in rows
    assert rows[lone]["grouped_cases"] is None
    (storm_row,) = [r for r in collapsed["items"] if r["id"] != lone]
    assert storm_row["id"] in ids
    assert storm_row["grouped_cases"] == STORM
    assert storm_row["incident_id"] == incident_of(app, ids[0])


def test_incidents_are_listed_with_their_counts(
    app: App, clock: FixedClock, client: TestClient
) -> None:
    ids = storm(app, clock, STORM)
    headers = reader(app, clock, "acme")

    listed = client.get("/v1/incidents", headers=headers).json()
    incident_id = listed["items"][0]["id"]
    members = client.get(
        "/v1/cases", params={"incident_id": incident_id, "limit": 200}, headers=headers
    ).json()

    assert listed["total"] == 1
    assert (listed["items"][0]["case_count"], listed["items"][0]["open_cases"]) == (STORM, STORM)
    assert sorted(c["id"] for c in members["items"]) == sorted(ids)
    assert client.get(f"/v1/incidents/{incident_id}", headers=headers).json()["dimension"] == (
        "lane"
    )


def test_an_incident_closes_when_its_last_case_closes(app: App, clock: FixedClock) -> None:
    ids = storm(app, clock, DEFAULT_STORM_RULE.min_cases)
    closed = []
    for case_id in ids:
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            case = uow.cases.get(case_id)
            assert case is not None
            case.status, case.closed_at = CaseStatus.RESOLVED, clock.now()
            closed.append(release_from_incident(uow, case, now=clock.now()))
            uow.commit()

    assert closed == [False] * (len(ids) - 1) + [True]
    ((_, closed_at),) = incident_rows(app)
    assert closed_at == clock.now()


def test_the_sweep_closes_incidents_whose_cases_closed_elsewhere(
    app: App, clock: FixedClock
) -> None:
    ids = storm(app, clock, DEFAULT_STORM_RULE.min_cases)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        for case in uow.session.query(Case).filter(Case.id.in_(ids[:-1])):
            case.status = CaseStatus.RESOLVED
        uow.commit()

    still_open = close_finished_incidents(app.sessions, tenant_id="acme", clock=clock)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        last = uow.cases.get(ids[-1])
        assert last is not None
        last.status = CaseStatus.REJECTED
        uow.commit()
    closed = close_finished_incidents(app.sessions, tenant_id="acme", clock=clock)

    assert (still_open, closed) == (0, 1)


def test_a_new_storm_after_the_incident_closed_opens_a_new_incident(
    app: App, clock: FixedClock
) -> None:
    first = storm(app, clock, DEFAULT_STORM_RULE.min_cases)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        for case in uow.session.query(Case).filter(Case.id.in_(first)):
            case.status = CaseStatus.RESOLVED
        uow.commit()
    close_finished_incidents(app.sessions, tenant_id="acme", clock=clock)

    second = storm(app, clock, DEFAULT_STORM_RULE.min_cases)

    assert incident_of(app, first[0]) != incident_of(app, second[0])
    assert len(incident_rows(app)) == 2


def test_tenants_never_share_or_see_each_others_incidents(
    app: App, clock: FixedClock, client: TestClient
) -> None:
    acme = storm(app, clock, STORM)
    globex_cases = storm(app, clock, DEFAULT_STORM_RULE.min_cases - 1, tenant_id="globex")
    acme_incident = incident_of(app, acme[0])

    globex = reader(app, clock, "globex")
    listed = client.get("/v1/incidents", headers=globex).json()
    detail = client.get(f"/v1/incidents/{acme_incident}", headers=globex)
    members = client.get(
        "/v1/cases", params={"incident_id": acme_incident, "count": True}, headers=globex
    )

    assert listed["total"] == 0
    assert detail.status_code == 404
    assert members.json()["total"] == 0
    assert {incident_of(app, i, "globex") for i in globex_cases} == {None}
