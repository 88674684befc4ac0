"""Holds as records: placed with their outbox row, released exactly once when the case
clears, when they expire, or by hand; never released twice, never before they are placed.

Delivery to Shopify is the writeback suites' subject; here a place message is settled by
hand (``settle_message``) to say what the worker found, and the release rows are read from
the outbox, which is the desk's promise to the vendor.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person, person
from builders.holds import hold_row, place_hold, release_rows, settle_message
from orderops.bootstrap import App
from orderops.decide.execution import on_action_message_settled
from orderops.decide.holds import release_due
from orderops.domain.clock import FixedClock
from orderops.domain.holds import DEFAULT_EXPIRY, release_key
from orderops.domain.roles import Role
from orderops.storage.tables import AuditRecord, OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.writeback.states import OutboxStatus


def resolve_case(http: TestClient, who: Person, case_id: str) -> None:
    version = http.get(f"/v1/cases/{case_id}", headers=who.headers).json()["version"]
    answer = http.post(
        f"/v1/cases/{case_id}/transitions",
        json={"move": "resolve", "reason": "customer confirmed the address", "version": version},
        headers=who.headers,
    )
    assert answer.status_code == 200, answer.text


def sweep(app: App, clock: FixedClock, tenant: str = "acme") -> list[str]:
    return release_due(app.sessions, tenant_id=tenant, clock=clock)


def test_an_approved_hold_is_recorded_with_its_outbox_row_and_shown_on_its_case(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    placed = place_hold(app, clock, agent)

    hold = hold_row(app, "acme", placed.hold_id)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        place = uow.session.scalar(
            select(OutboxMessage).where(OutboxMessage.id == hold.place_outbox_id)
        )
        assert place is not None
        place_action, place_operation = place.action_id, place.operation
    assert (hold.status, hold.kind, hold.order_ref != "") == ("active", "fulfillment", True)
    assert hold.reason == "address_check: street number missing"
    assert hold.owner == agent.principal.identity  # approved by rule: the proposer owns it
    assert (place_action, place_operation) == (placed.action_id, "hold_fulfillment")
    assert hold.placed_at == clock.now()
    assert hold.expires_at == clock.now() + DEFAULT_EXPIRY
    case = http.get(f"/v1/cases/{placed.case_id}", headers=agent.headers).json()
    assert [h["id"] for h in case["holds"]] == [placed.hold_id]
    assert "hold_placed" in [e["kind"] for e in case["timeline"]]


def test_the_case_resolving_releases_its_placed_hold_once(
    app: App, clock: FixedClock, agent: Person, approver: Person, http: TestClient
) -> None:
    placed = place_hold(app, clock, agent)
    settle_message(app, "acme", placed.place_outbox_id, OutboxStatus.DELIVERED)

    resolve_case(http, agent, placed.case_id)
    sweep(app, clock)
    sweep(app, clock)

    hold = hold_row(app, "acme", placed.hold_id)
    (release,) = release_rows(app, "acme", placed.hold_id)
    assert (hold.status, hold.release_reason) == ("released", "case_cleared")
    assert hold.released_by == agent.principal.identity
    assert hold.release_outbox_id == release.id
    assert (release.system, release.idempotency_key) == ("shopify", release_key(hold.id))
    assert release.case_id == placed.case_id
    assert release.action_id is None
    again = http.post(f"/v1/holds/{placed.hold_id}/release", headers=approver.headers)
    assert again.status_code == 409, again.text
    assert len(release_rows(app, "acme", placed.hold_id)) == 1
    case = http.get(f"/v1/cases/{placed.case_id}", headers=agent.headers).json()
    assert case["holds"][0]["status"] == "released"


def test_the_case_resolving_because_its_hold_was_delivered_keeps_the_hold(
    app: App, clock: FixedClock, agent: Person
) -> None:
    """The hold was the remedy: its delivery closing the case is not the case clearing."""
    placed = place_hold(app, clock, agent)
    settle_message(app, "acme", placed.place_outbox_id, OutboxStatus.DELIVERED)

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        message = uow.session.scalar(
            select(OutboxMessage).where(OutboxMessage.id == placed.place_outbox_id)
        )
        assert message is not None
        on_action_message_settled(uow, message, clock.now())
        uow.commit()
    sweep(app, clock)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(placed.case_id)
        assert case is not None
        assert case.status == "resolved"
    assert hold_row(app, "acme", placed.hold_id).status == "active"
    assert release_rows(app, "acme", placed.hold_id) == []


def test_a_case_clearing_before_the_hold_is_placed_releases_it_after_and_racing_sweeps_once(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    placed = place_hold(app, clock, agent)
    resolve_case(http, agent, placed.case_id)

    waiting = hold_row(app, "acme", placed.hold_id)
    assert (waiting.status, waiting.release_reason) == ("release_due", "case_cleared")
    assert sweep(app, clock) == []  # the hold is still on its way: no release overtakes it
    assert release_rows(app, "acme", placed.hold_id) == []

    settle_message(app, "acme", placed.place_outbox_id, OutboxStatus.DELIVERED)
    results = race(lambda: sweep(app, clock), lambda: sweep(app, clock))

    assert sorted(r for found in results for r in found) == [placed.hold_id]
    assert len(release_rows(app, "acme", placed.hold_id)) == 1
    assert hold_row(app, "acme", placed.hold_id).status == "released"


def test_an_expired_hold_is_released_once_however_many_sweeps_race(
    app: App, clock: FixedClock, agent: Person
) -> None:
    placed = place_hold(app, clock, agent)
    settle_message(app, "acme", placed.place_outbox_id, OutboxStatus.DELIVERED)

    clock.advance(DEFAULT_EXPIRY - timedelta(minutes=1))
    assert sweep(app, clock) == []
    assert hold_row(app, "acme", placed.hold_id).status == "active"
    clock.advance(timedelta(minutes=1))
    results = race(lambda: sweep(app, clock), lambda: sweep(app, clock))
    sweep(app, clock)

    assert sorted(r for found in results for r in found) == [placed.hold_id]
    hold = hold_row(app, "acme", placed.hold_id)
    assert (hold.status, hold.release_reason, hold.released_by) == (
        "released",
        "expired",
        "holds:sweep",
    )
    assert hold.released_at == clock.now()
    assert len(release_rows(app, "acme", placed.hold_id)) == 1
    assert "case.hold_released" in audit_actions(app, placed.case_id)


def test_a_hold_that_was_never_placed_ends_without_a_vendor_call(
    app: App, clock: FixedClock, agent: Person
) -> None:
    placed = place_hold(app, clock, agent)
    settle_message(app, "acme", placed.place_outbox_id, OutboxStatus.FAILED)

    clock.advance(DEFAULT_EXPIRY)
    assert sweep(app, clock) == [placed.hold_id]

    hold = hold_row(app, "acme", placed.hold_id)
    assert (hold.status, hold.release_outbox_id) == ("released", None)
    assert release_rows(app, "acme", placed.hold_id) == []


def test_manual_release_is_for_approvers_of_the_hold_tenant_only(
    app: App, clock: FixedClock, agent: Person, approver: Person, http: TestClient
) -> None:
    placed = place_hold(app, clock, agent)
    settle_message(app, "acme", placed.place_outbox_id, OutboxStatus.DELIVERED)
    viewer = person(app, clock, tenant="acme", role=Role.VIEWER, name="vic-viewer")
    service = person(app, clock, tenant="acme", role=Role.SERVICE, name="svc")
    outsider = person(app, clock, tenant="globex", role=Role.ADMIN, name="gus-globex")
    path = f"/v1/holds/{placed.hold_id}/release"

    refused = {
        name: http.post(path, headers=who.headers).status_code
        for name, who in {
            "viewer": viewer,
            "agent": agent,
            "service": service,
            "other tenant": outsider,
        }.items()
    }
    assert refused == {"viewer": 403, "agent": 403, "service": 403, "other tenant": 404}
    assert hold_row(app, "acme", placed.hold_id).status == "active"
    assert http.get("/v1/holds", headers=outsider.headers).json()["items"] == []

    released = http.post(path, headers=approver.headers)

    assert released.status_code == 200, released.text
    body: dict[str, Any] = released.json()
    assert (body["status"], body["release_reason"]) == ("released", "manual")
    assert body["released_by"] == approver.principal.identity
    (release,) = release_rows(app, "acme", placed.hold_id)
    assert body["release_outbox_id"] == release.id
    assert http.post(path, headers=approver.headers).status_code == 409
    listed = http.get("/v1/holds?status=released", headers=viewer.headers).json()["items"]
    assert [h["id"] for h in listed] == [placed.hold_id]
    assert http.get("/v1/holds?status=active", headers=viewer.headers).json()["items"] == []


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/holds/no-such-hold/release", 404),
        ("/v1/holds/" + "x" * 65 + "/release", 422),
        ("/v1/holds?status=bogus", 422),
        ("/v1/holds?limit=100000", 422),
    ],
)
def test_malformed_or_unknown_hold_requests_are_refused(
    app: App, approver: Person, http: TestClient, path: str, status: int
) -> None:
    method = "POST" if path.endswith("/release") else "GET"
    assert http.request(method, path, headers=approver.headers).status_code == status


def race(*steps: Callable[[], list[str]]) -> list[list[str]]:
    """Run the steps at once on their own threads (each its own session); a step's
    exception is raised here by ``result``."""
    barrier = threading.Barrier(len(steps))

    def start(step: Callable[[], list[str]]) -> list[str]:
        barrier.wait(timeout=30)
        return step()

    with ThreadPoolExecutor(max_workers=len(steps)) as pool:
        futures = [pool.submit(start, step) for step in steps]
        return [f.result(timeout=60) for f in futures]


def audit_actions(app: App, case_id: str) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return list(
            uow.session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.entity_id == case_id)
                .order_by(AuditRecord.seq)
            )
        )


def test_a_hold_lasts_what_the_tenants_approval_policy_says_and_expires_by_it(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    admin = person(app, clock, tenant="acme", role=Role.ADMIN, name="ada-admin")
    current = http.get("/v1/admin/approval-policy", headers=admin.headers).json()
    for hours in (0, 24 * 31, "six"):
        refused = http.put(
            "/v1/admin/approval-policy",
            json={"policy": {**current["body"], "hold_expiry_hours": hours}},
            headers=admin.headers,
        )
        assert refused.status_code in (400, 422), refused.text
    changed = http.put(
        "/v1/admin/approval-policy",
        json={"policy": {**current["body"], "hold_expiry_hours": 6}, "note": "weekday desk"},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert [c["after"] for c in changed.json()["changes"] if "hold_expiry" in c["path"]] == [6]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        audited = uow.session.scalars(select(AuditRecord.action)).all()
    assert "approval_policy.changed" in audited

    placed = place_hold(app, clock, agent)
    settle_message(app, "acme", placed.place_outbox_id, OutboxStatus.DELIVERED)

    assert hold_row(app, "acme", placed.hold_id).expires_at == clock.now() + timedelta(hours=6)
    clock.advance(timedelta(hours=6) - timedelta(minutes=1))
    assert sweep(app, clock) == []
    clock.advance(timedelta(minutes=1))
    assert sweep(app, clock) == [placed.hold_id]
    assert hold_row(app, "acme", placed.hold_id).release_reason == "expired"
