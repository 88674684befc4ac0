"""Conditional requests: ETag and 304 on GETs, 412 for a stale If-Match, RateLimit headers.

Against the real app on both databases, as an integrator's client would use them: read,
keep the ETag, ask again with If-None-Match; change a case with the version it was read
at as If-Match, and be told 412 when someone changed it first.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from builders.access import person
from builders.scopes import placed_case
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import ScopeValues


@pytest.fixture
def agent_http(app: App, clock: FixedClock) -> Iterator[TestClient]:
    who = person(app, clock, tenant="acme", role=Role.AGENT, name="cond-agent")
    with TestClient(create_app(app), headers=who.headers) as client:
        yield client


@pytest.fixture
def case_id(app: App, clock: FixedClock) -> str:
    return placed_case(app, clock, ScopeValues(region="DE", brand="acme")).case_id


def test_a_get_answers_304_to_its_own_etag_and_200_once_it_changed(
    agent_http: TestClient, case_id: str
) -> None:
    first = agent_http.get(f"/v1/cases/{case_id}")
    tag = first.headers["ETag"]
    unchanged = agent_http.get(f"/v1/cases/{case_id}", headers={"If-None-Match": tag})
    version = first.json()["version"]
    agent_http.post(f"/v1/cases/{case_id}/claim", json={"version": version})
    changed = agent_http.get(f"/v1/cases/{case_id}", headers={"If-None-Match": tag})

    assert first.status_code == 200
    assert tag.startswith('W/"')
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert unchanged.headers["ETag"] == tag
    assert "RateLimit" in unchanged.headers
    assert changed.status_code == 200
    assert changed.headers["ETag"] != tag


def test_lists_are_tagged_too(agent_http: TestClient, case_id: str) -> None:
    listed = agent_http.get("/v1/cases")
    again = agent_http.get("/v1/cases", headers={"If-None-Match": f'"x", {listed.headers["ETag"]}'})

    assert case_id in [item["id"] for item in listed.json()["items"]]
    assert again.status_code == 304


def test_a_stale_if_match_is_a_412_and_a_stale_version_field_stays_409(
    agent_http: TestClient, case_id: str
) -> None:
    seen = agent_http.get(f"/v1/cases/{case_id}").json()["version"]
    claimed = agent_http.post(
        f"/v1/cases/{case_id}/claim", json={}, headers={"If-Match": f'"{seen}"'}
    )
    stale_header = agent_http.post(
        f"/v1/cases/{case_id}/release", json={}, headers={"If-Match": f'"{seen}"'}
    )
    stale_field = agent_http.post(f"/v1/cases/{case_id}/release", json={"version": seen})

    assert claimed.status_code == 200, claimed.text
    assert claimed.headers["ETag"] == f'"{seen + 1}"'
    assert stale_header.status_code == 412
    assert stale_header.headers["content-type"] == "application/problem+json"
    assert stale_header.json()["type"].endswith("/stale-case")
    assert stale_field.status_code == 409


def test_every_keyed_answer_carries_the_rate_limits(agent_http: TestClient, case_id: str) -> None:
    answers = [
        agent_http.get("/v1/cases"),
        agent_http.get(f"/v1/cases/{case_id}"),
        agent_http.get("/v1/cases/nosuch"),
        agent_http.post(f"/v1/cases/{case_id}/claim", json={"version": 999}),
    ]

    assert [a.status_code for a in answers] == [200, 200, 404, 409]
    for answer in answers:
        assert answer.headers["RateLimit-Policy"].startswith('"api-')
        assert "r=" in answer.headers["RateLimit"]
