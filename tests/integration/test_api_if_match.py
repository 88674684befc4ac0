"""Actions and holds carry their state as a strong ETag: GET sends it, every change answers
the new one, and a change sent with a tag the resource has left is refused 412 (not done)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from builders.access import Person, late_case, person
from builders.holds import place_hold
from orderops.bootstrap import App
from orderops.decide.actions import propose
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.evidence.service import default_store


def waiting_action(app: App, clock: FixedClock, proposer: Person) -> str:
    """An action awaiting approval (desk approval, no money)."""
    action = propose(
        app.sessions,
        tenant_id="acme",
        case_id=late_case(app, clock),
        kind="release_fulfillment",
        params={"note": "checked"},
        principal=proposer.principal,
        clock=clock,
        evidence=default_store(app.settings),
    )
    assert action.status == "awaiting_approval", action
    return action.id


def test_an_action_is_approved_with_its_current_tag_and_answers_the_next_one(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    action_id = waiting_action(app, clock, agent)
    read = http.get(f"/v1/actions/{action_id}", headers=approver.headers)
    tag = read.headers["etag"]

    approved = http.post(
        f"/v1/actions/{action_id}/approve", headers={**approver.headers, "If-Match": tag}
    )

    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] != "awaiting_approval"
    assert tag.startswith('"')
    assert approved.headers["etag"] != tag
    again = http.get(f"/v1/actions/{action_id}", headers=approver.headers)
    assert again.headers["etag"] == approved.headers["etag"]
    unchanged = http.get(
        f"/v1/actions/{action_id}",
        headers={**approver.headers, "If-None-Match": again.headers["etag"]},
    )
    assert unchanged.status_code == 304


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_a_decision_on_an_action_that_changed_since_it_was_read_is_412_and_not_taken(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person, verb: str
) -> None:
    action_id = waiting_action(app, clock, agent)
    stale = http.get(f"/v1/actions/{action_id}", headers=approver.headers).headers["etag"]
    rejected = http.post(
        f"/v1/actions/{action_id}/reject",
        json={"reason": "not this one"},
        headers={**approver.headers, "If-Match": stale},
    )
    assert rejected.status_code == 200, rejected.text

    late = http.post(
        f"/v1/actions/{action_id}/{verb}",
        json={"reason": "changed my mind"},
        headers={**approver.headers, "If-Match": stale},
    )

    assert late.status_code == 412, late.text
    assert late.headers["content-type"].startswith("application/problem+json")
    assert late.json()["type"].endswith("/stale-etag")
    after = http.get(f"/v1/actions/{action_id}", headers=approver.headers).json()
    assert after["status"] == "rejected"
    assert [d["decision"] for d in after["decisions"]] == [
        d["decision"] for d in rejected.json()["decisions"]
    ]


def test_a_weak_tag_never_passes_if_match(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    action_id = waiting_action(app, clock, agent)
    tag = http.get(f"/v1/actions/{action_id}", headers=approver.headers).headers["etag"]

    answer = http.post(
        f"/v1/actions/{action_id}/approve", headers={**approver.headers, "If-Match": f"W/{tag}"}
    )

    assert answer.status_code == 412, answer.text
    assert http.get(f"/v1/actions/{action_id}", headers=approver.headers).json()["status"] == (
        "awaiting_approval"
    )


def test_a_hold_is_read_with_its_tag_and_released_only_from_its_current_state(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    placed = place_hold(app, clock, agent)
    read = http.get(f"/v1/holds/{placed.hold_id}", headers=approver.headers)
    assert read.status_code == 200, read.text
    assert read.json()["status"] == "active"
    tag = read.headers["etag"]

    released = http.post(
        f"/v1/holds/{placed.hold_id}/release", headers={**approver.headers, "If-Match": tag}
    )
    again = http.post(
        f"/v1/holds/{placed.hold_id}/release", headers={**approver.headers, "If-Match": tag}
    )
    without_tag = http.post(f"/v1/holds/{placed.hold_id}/release", headers=approver.headers)

    assert released.status_code == 200, released.text
    assert released.headers["etag"] != tag
    assert (
        released.headers["etag"]
        == http.get(f"/v1/holds/{placed.hold_id}", headers=approver.headers).headers["etag"]
    )
    assert again.status_code == 412, again.text
    assert again.json()["type"].endswith("/stale-etag")
    assert without_tag.status_code == 409  # the hold's own state check, as before


def test_another_tenants_hold_is_not_found(
    app: App, clock: FixedClock, http: TestClient, agent: Person
) -> None:
    placed = place_hold(app, clock, agent)
    globex = person(app, clock, tenant="globex", role=Role.ADMIN)

    answer = http.get(f"/v1/holds/{placed.hold_id}", headers=globex.headers)

    assert answer.status_code == 404
    assert placed.hold_id in answer.json()["detail"]  # only the id asked for
    assert placed.case_id not in answer.text
