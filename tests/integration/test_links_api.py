"""Link suggestions and record links over HTTP: a person places what resolve would not.

Accepting a suggestion moves the record onto the chosen order and judges the order again
(the third ticket opens ``customer_chasing``); unlinking takes it off (the case resolves)
and keeps the link readable, revoked; relinking writes a new link. Decisions are audited,
refused to viewers and service keys, 409 the second time, 422 for an order that was not
offered, and another tenant's ids are 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from builders.access import Person, person
from builders.events import envelope, order_placed
from builders.links import LinkWorld, audit_actions, suggested_ticket, ticket, ticket_order
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import process_pending

PROBLEMS = "https://orderops.dev/problems/"


@pytest.fixture
def world(app: App, clock: FixedClock) -> LinkWorld:
    return suggested_ticket(app, clock)


def _accept(http: TestClient, who: Person, world: LinkWorld, order_ref: str, **extra: Any) -> Any:
    return http.post(
        f"/v1/link-suggestions/{world.suggestion_id}/accept",
        json={"order_ref": order_ref, **extra},
        headers=who.headers,
    )


def _chasing(http: TestClient, who: Person, order_ref: str) -> list[dict[str, Any]]:
    response = http.get(
        "/v1/cases",
        params={"order_ref": order_ref, "type": "customer_chasing"},
        headers=who.headers,
    )
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_open_suggestions_list_each_candidate_with_its_evidence(
    http: TestClient, agent: Person, world: LinkWorld
) -> None:
    listed = http.get("/v1/link-suggestions", params={"status": "open"}, headers=agent.headers)
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 1
    [item] = body["items"]
    assert item["id"] == world.suggestion_id
    assert item["record_ref"] == world.record_ref
    assert [
        (c["order_ref"], c["number"], c["evidence"], c["known"]) for c in item["candidates"]
    ] == [
        (world.order_a, world.number_a, "requester wrote to A", True),
        (world.order_b, world.number_b, "requester wrote to B", True),
    ]
    one = http.get(f"/v1/link-suggestions/{world.suggestion_id}", headers=agent.headers)
    assert one.json() == item
    accepted = http.get(
        "/v1/link-suggestions", params={"status": "accepted"}, headers=agent.headers
    )
    assert accepted.json()["items"] == []


def test_accepting_links_the_third_ticket_opens_customer_chasing_and_is_audited(
    app: App, http: TestClient, agent: Person, world: LinkWorld
) -> None:
    assert _chasing(http, agent, world.order_a) == []
    response = _accept(http, agent, world, world.order_a, reason="customer confirmed by phone")
    assert response.status_code == 200, response.text
    decision = response.json()
    assert decision["link"]["method"] == "suggestion"
    assert decision["link"]["record_ref"] == world.record_ref
    assert decision["link"]["created_by"] == agent.principal.identity
    assert "requester wrote to A" in decision["link"]["evidence"]
    assert "customer confirmed by phone" in decision["link"]["evidence"]
    assert decision["suggestion"]["status"] == "accepted"
    assert decision["suggestion"]["chosen_order_ref"] == world.order_a
    assert [(c["change"], c["exception_type"]) for c in decision["case_changes"]] == [
        ("opened", "customer_chasing")
    ]
    assert ticket_order(app, world) == world.order_a

    [case] = _chasing(http, agent, world.order_a)
    timeline = http.get(f"/v1/cases/{case['id']}", headers=agent.headers).json()["timeline"]
    [note] = [e for e in timeline if e["kind"] == "link"]
    assert note["actor"] == agent.principal.identity
    assert note["data"]["reason"] == "customer confirmed by phone"
    assert note["data"]["to_order"] == world.order_a

    actions = [(action, actor) for action, actor, _ in audit_actions(app)]
    assert ("record.linked", agent.principal.identity) in actions
    assert ("link_suggestion.accepted", agent.principal.identity) in actions


def test_unlinking_resolves_the_case_keeps_the_link_revoked_and_relinking_adds_a_row(
    app: App, http: TestClient, agent: Person, approver: Person, world: LinkWorld
) -> None:
    link_id = _accept(http, agent, world, world.order_a).json()["link"]["id"]

    unlinked = http.post(
        f"/v1/links/{link_id}/unlink", json={"reason": "wrong customer"}, headers=approver.headers
    )
    assert unlinked.status_code == 200, unlinked.text
    assert [(c["change"], c["exception_type"]) for c in unlinked.json()["case_changes"]] == [
        ("resolved", "customer_chasing")
    ]
    assert ticket_order(app, world) is None
    again = http.post(
        f"/v1/links/{link_id}/unlink", json={"reason": "twice"}, headers=approver.headers
    )
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEMS + "link-conflict"

    relinked = http.post(
        "/v1/links",
        json={
            "record_type": "ticket",
            "record_ref": world.record_ref,
            "order_ref": world.order_a,
            "reason": "it was theirs after all",
        },
        headers=agent.headers,
    )
    assert relinked.status_code == 201, relinked.text
    new_link = relinked.json()["link"]
    assert new_link["id"] != link_id
    assert new_link["method"] == "manual"
    assert [c["change"] for c in relinked.json()["case_changes"]] == ["reopened"]

    links = http.get(f"/v1/orders/{world.order_a}/links", headers=agent.headers).json()["items"]
    assert [(x["id"], x["active"], x["revoked_reason"]) for x in links] == [
        (link_id, False, "wrong customer"),
        (new_link["id"], True, None),
    ]
    assert links[0]["revoked_by"] == approver.principal.identity
    assert "requester wrote to A" in links[0]["evidence"]
    actions = [action for action, _, _ in audit_actions(app)]
    assert actions.count("record.linked") == 2
    assert actions.count("record.unlinked") == 1
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def test_after_a_person_unlinks_a_record_resolve_never_links_it_back_by_the_same_key(
    app: App, clock: FixedClock, http: TestClient, agent: Person, world: LinkWorld
) -> None:
    link_id = _accept(http, agent, world, world.order_a).json()["link"]["id"]
    unlinked = http.post(
        f"/v1/links/{link_id}/unlink", json={"reason": "not theirs"}, headers=agent.headers
    )
    assert unlinked.status_code == 200, unlinked.text

    clock.advance(timedelta(minutes=10))
    update = ticket(
        world.ticket_ref, at=clock.now(), subject=f"Still waiting on order #{world.number_a}"
    )
    update["data"]["order_keys"] = [{"kind": "order.number", "value": f"#{world.number_a}"}]
    report = ingest_items(app.sessions, tenant_id="acme", items=[update], channel="t", clock=clock)
    assert report.rejected == []
    process_pending(app.sessions, tenant_id="acme", clock=clock)

    assert ticket_order(app, world) is None
    links = http.get(f"/v1/orders/{world.order_a}/links", headers=agent.headers).json()["items"]
    assert [x["active"] for x in links] == [False]


def test_moving_a_record_judges_both_orders_and_revokes_the_old_link(
    app: App, http: TestClient, agent: Person, world: LinkWorld
) -> None:
    first = _accept(http, agent, world, world.order_a).json()["link"]["id"]
    moved = http.post(
        "/v1/links",
        json={
            "record_type": "ticket",
            "record_ref": world.record_ref,
            "order_ref": world.order_b,
            "reason": "the parcel is B's",
        },
        headers=agent.headers,
    )
    assert moved.status_code == 201, moved.text
    assert sorted(moved.json()["orders"]) == sorted([world.order_a, world.order_b])
    assert [(c["change"], c["order_ref"]) for c in moved.json()["case_changes"]] == [
        ("resolved", world.order_a)
    ]
    assert ticket_order(app, world) == world.order_b
    old = http.get(f"/v1/orders/{world.order_a}/links", headers=agent.headers).json()["items"]
    assert [(x["id"], x["active"]) for x in old] == [(first, False)]
    assert old[0]["revoked_reason"] == f"moved to {world.order_b}: the parcel is B's"
    same = http.post(
        "/v1/links",
        json={
            "record_type": "ticket",
            "record_ref": world.record_ref,
            "order_ref": world.order_b,
            "reason": "again",
        },
        headers=agent.headers,
    )
    assert same.status_code == 409


def test_rejecting_leaves_the_ticket_unlinked_and_a_second_decision_is_409(
    app: App, http: TestClient, agent: Person, world: LinkWorld
) -> None:
    rejected = http.post(
        f"/v1/link-suggestions/{world.suggestion_id}/reject",
        json={"reason": "neither order: a different shop"},
        headers=agent.headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["suggestion"]["status"] == "rejected"
    assert rejected.json()["link"] is None
    assert ticket_order(app, world) is None
    [(_, actor, data)] = [a for a in audit_actions(app) if a[0] == "link_suggestion.rejected"]
    assert actor == agent.principal.identity
    assert data["reason"] == "neither order: a different shop"

    late_accept = _accept(http, agent, world, world.order_a)
    assert late_accept.status_code == 409
    assert late_accept.json()["type"] == PROBLEMS + "suggestion-decided"
    assert ticket_order(app, world) is None


def test_a_second_accept_is_409_and_changes_nothing(
    app: App, http: TestClient, agent: Person, approver: Person, world: LinkWorld
) -> None:
    assert _accept(http, agent, world, world.order_a).status_code == 200
    second = _accept(http, approver, world, world.order_b)
    assert second.status_code == 409
    assert "accepted already" in second.json()["detail"]
    assert ticket_order(app, world) == world.order_a


def test_an_order_that_was_not_offered_is_422_and_the_suggestion_stays_open(
    app: App, http: TestClient, agent: Person, clock: FixedClock, world: LinkWorld
) -> None:
    other = suggested_ticket(app, clock)  # its orders exist, but were not offered here
    response = _accept(http, agent, world, other.order_a)
    assert response.status_code == 422
    assert response.json()["type"] == PROBLEMS + "not-a-candidate"
    assert world.order_a in response.json()["detail"]
    one = http.get(f"/v1/link-suggestions/{world.suggestion_id}", headers=agent.headers)
    assert one.json()["status"] == "open"
    assert ticket_order(app, world) is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("accept", {}),
        ("accept", {"order_ref": ""}),
        ("accept", {"order_ref": 42}),
        ("reject", {}),
        ("reject", {"reason": ""}),
        ("links", {"record_type": "ticket", "record_ref": "zendesk:1", "order_ref": "o"}),
        ("links", {"record_type": "invoice", "record_ref": "x:1", "order_ref": "o", "reason": "r"}),
        ("unlink", {"reason": ""}),
    ],
)
def test_malformed_bodies_are_422_and_change_nothing(
    app: App, http: TestClient, agent: Person, world: LinkWorld, path: str, body: dict[str, Any]
) -> None:
    url = {
        "accept": f"/v1/link-suggestions/{world.suggestion_id}/accept",
        "reject": f"/v1/link-suggestions/{world.suggestion_id}/reject",
        "links": "/v1/links",
        "unlink": "/v1/links/no-such-link/unlink",
    }[path]
    response = http.post(url, json=body, headers=agent.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (
        http.get(f"/v1/link-suggestions/{world.suggestion_id}", headers=agent.headers).json()[
            "status"
        ]
        == "open"
    )


def test_links_to_unknown_records_or_orders_are_refused(
    http: TestClient, agent: Person, world: LinkWorld
) -> None:
    unknown_record = http.post(
        "/v1/links",
        json={
            "record_type": "ticket",
            "record_ref": "zendesk:never-seen",
            "order_ref": world.order_a,
            "reason": "r",
        },
        headers=agent.headers,
    )
    assert unknown_record.status_code == 404
    unknown_order = http.post(
        "/v1/links",
        json={
            "record_type": "ticket",
            "record_ref": world.record_ref,
            "order_ref": "no-such-order",
            "reason": "r",
        },
        headers=agent.headers,
    )
    assert unknown_order.status_code == 422
    assert "no order no-such-order" in unknown_order.json()["detail"]


def test_viewers_and_service_keys_read_but_may_not_decide(
    app: App, clock: FixedClock, http: TestClient, service: Person, world: LinkWorld
) -> None:
    viewer = person(app, clock, tenant="acme", role=Role.VIEWER)
    for reader in (viewer, service):
        assert http.get("/v1/link-suggestions", headers=reader.headers).status_code == 200
        assert (
            http.get(f"/v1/orders/{world.order_a}/links", headers=reader.headers).status_code == 200
        )
        refused = _accept(http, reader, world, world.order_a)
        assert refused.status_code == 403, refused.text
        manual = http.post(
            "/v1/links",
            json={
                "record_type": "ticket",
                "record_ref": world.record_ref,
                "order_ref": world.order_a,
                "reason": "r",
            },
            headers=reader.headers,
        )
        assert manual.status_code == 403
    assert http.get("/v1/link-suggestions").status_code == 401
    assert ticket_order(app, world) is None


def test_another_tenants_suggestions_links_and_orders_are_404(
    app: App, clock: FixedClock, http: TestClient, agent: Person, world: LinkWorld
) -> None:
    link_id = _accept(http, agent, world, world.order_a).json()["link"]["id"]
    globex = person(app, clock, tenant="globex", role=Role.ADMIN)
    theirs = suggested_ticket(app, clock, tenant="globex")

    assert http.get("/v1/link-suggestions", headers=globex.headers).json()["total"] == 1
    assert (
        http.get(f"/v1/link-suggestions/{world.suggestion_id}", headers=globex.headers).status_code
        == 404
    )
    assert _accept(http, globex, world, world.order_a).status_code == 404
    assert http.get(f"/v1/orders/{world.order_a}/links", headers=globex.headers).status_code == 404
    assert (
        http.post(
            f"/v1/links/{link_id}/unlink", json={"reason": "mine now"}, headers=globex.headers
        ).status_code
        == 404
    )
    assert (
        http.post(
            f"/v1/link-suggestions/{theirs.suggestion_id}/reject",
            json={"reason": "not ours"},
            headers=agent.headers,
        ).status_code
        == 404
    )
    assert ticket_order(app, world) == world.order_a


def test_a_refund_is_moved_between_orders_but_never_left_without_one(
    app: App, clock: FixedClock, http: TestClient, agent: Person, world: LinkWorld
) -> None:
    refund = envelope(
        "order.refund",
        {"refund_ref": "rf_1", "order_ref": world.order_a, "amount_minor": 1500, "currency": "USD"},
        at=clock.now(),
    )
    report = ingest_items(app.sessions, tenant_id="acme", items=[refund], channel="t", clock=clock)
    assert report.rejected == []
    record_ref = "shop:rf_1"  # as resolve names it: the system, then the refund's id
    moved = http.post(
        "/v1/links",
        json={
            "record_type": "refund",
            "record_ref": record_ref,
            "order_ref": world.order_b,
            "reason": "refunded on the wrong order in the shop admin",
        },
        headers=agent.headers,
    )
    assert moved.status_code == 201, moved.text
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = ResolveRepository(uow.session, "acme").refund("shop", "rf_1")
        assert row is not None
        assert row.order_ref == world.order_b
    refused = http.post(
        f"/v1/links/{moved.json()['link']['id']}/unlink",
        json={"reason": "no order"},
        headers=agent.headers,
    )
    assert refused.status_code == 422
    assert "must sit on an order" in refused.json()["detail"]
    links = http.get(f"/v1/orders/{world.order_b}/links", headers=agent.headers).json()["items"]
    assert [(x["record_ref"], x["active"]) for x in links] == [(record_ref, True)]


def test_a_dispute_parked_for_a_person_lands_on_the_chosen_order(
    app: App, clock: FixedClock, http: TestClient, agent: Person
) -> None:
    placed = clock.now() - timedelta(days=1)
    dispute = envelope(
        "fraud.signal",
        {
            "kind": "dispute",
            "signal_ref": "dp_9",
            "order_keys": [{"kind": "order.number", "value": "#1001"}],
        },
        at=clock.now(),
        source="test://stripe",
    )
    items = [
        order_placed("o-first", at=placed, number="1001"),
        order_placed("o-second", at=placed, number="1001", source="test://other-shop"),
        dispute,
    ]
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="t", clock=clock)
    assert report.rejected == []
    [suggestion] = http.get("/v1/link-suggestions", headers=agent.headers).json()["items"]
    assert suggestion["record_type"] == "fraud_signal"
    assert sorted(c["order_ref"] for c in suggestion["candidates"]) == ["o-first", "o-second"]

    accepted = _accept_id(http, agent, suggestion["id"], "o-second")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["link"]["order_ref"] == "o-second"
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        second = [s.kind for s in uow.commerce.fraud_signals_for("o-second")]
        first = [s.kind for s in uow.commerce.fraud_signals_for("o-first")]
    assert (first, second) == ([], ["dispute"])


def _accept_id(http: TestClient, who: Person, suggestion_id: str, order_ref: str) -> Any:
    return http.post(
        f"/v1/link-suggestions/{suggestion_id}/accept",
        json={"order_ref": order_ref},
        headers=who.headers,
    )
