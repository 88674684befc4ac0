"""Deciding actions: maker-checker, two-person approval, expiry, auto-approval, bulk, keys.

Every scenario goes through the HTTP API (TestClient) as people with their own keys, and
ends by verifying the tenant's audit chain.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person, late_case, person
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.decide.approvals import expire_due
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.evidence.service import default_store
from orderops.storage.tables import AuditRecord, OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.writeback.outbox import enqueue


def propose(
    http: TestClient, who: Person, case_id: str, kind: str, **params: Any
) -> dict[str, Any]:
    response = http.post(
        f"/v1/cases/{case_id}/actions",
        json={"kind": kind, "params": params},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def outbox(app: App, tenant: str = "acme") -> list[OutboxMessage]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = list(
            uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.tenant_id == tenant)
                .order_by(OutboxMessage.idempotency_key)
            )
        )
        uow.session.expunge_all()
        return rows


def case_of(http: TestClient, who: Person, case_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/cases/{case_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def timeline(case: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [entry for entry in case["timeline"] if entry["kind"] == kind]


def assert_chain_verifies(app: App) -> None:
    for tenant in ("acme", "globex"):
        result = verify_tenant(app.sessions, tenant_id=tenant)
        assert result.ok, (tenant, result.problem)


def test_the_proposer_can_never_approve_their_own_action(
    app: App, clock: FixedClock, http: TestClient, approver: Person
) -> None:
    other = person(app, clock, tenant="acme", role=Role.APPROVER, name="carol-approver")
    case_id = late_case(app, clock)
    action = propose(http, approver, case_id, "cancel_order", reason="customer")

    own = http.post(f"/v1/actions/{action['id']}/approve", headers=approver.headers)
    by_other = http.post(f"/v1/actions/{action['id']}/approve", headers=other.headers)

    assert action["status"] == "awaiting_approval"
    assert action["proposed_by"] == approver.principal.subject
    assert own.status_code == 403
    assert own.json()["type"].endswith("/self-approval")
    assert by_other.status_code == 200, by_other.text
    assert by_other.json()["status"] == "approved"
    assert [d["approver"] for d in by_other.json()["decisions"]] == [other.principal.subject]
    assert [(m.system, m.operation) for m in outbox(app)] == [
        ("shopify", "cancel_order"),
        ("stripe", "refund"),
        ("wms", "release_lines"),
    ]
    assert case_of(http, other, case_id)["status"] == "approved"
    assert_chain_verifies(app)


def test_two_people_must_approve_above_the_limit_and_the_outbox_commits_with_the_second(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person, finance: Person
) -> None:
    case_id = late_case(app, clock, total_minor=200_000)
    action = propose(http, agent, case_id, "refund", reason="parcel lost")

    first = http.post(f"/v1/actions/{action['id']}/approve", headers=finance.headers)
    after_first = outbox(app)
    again = http.post(f"/v1/actions/{action['id']}/approve", headers=finance.headers)
    second = http.post(f"/v1/actions/{action['id']}/approve", headers=approver.headers)

    assert action["params"]["amount_minor"] == 200_000
    assert action["evaluation"]["required"] == ["finance"]
    assert action["evaluation"]["approvals"] == 2
    assert set(action["evaluation"]["matched_rules"]) == {
        "desk-approval",
        "finance-over-250",
        "two-person-over-1000",
    }
    assert first.status_code == 200
    assert first.json()["status"] == "awaiting_approval"
    assert after_first == []
    assert again.status_code == 409
    assert again.json()["type"].endswith("/already-decided")
    assert second.status_code == 200, second.text
    done = second.json()
    assert done["status"] == "approved"
    assert [d["approver"] for d in done["decisions"]] == [
        finance.principal.subject,
        approver.principal.subject,
    ]
    (message,) = outbox(app)
    # The order's payment is held by Stripe, so the refund is queued in Stripe's terms.
    assert (message.system, message.operation) == ("stripe", "refund")
    assert message.idempotency_key == f"{action['id']}:0"
    assert message.action_id == action["id"]
    assert message.payload["amount_minor"] == 200_000
    assert message.created_at == clock.now()
    assert datetime.fromisoformat(done["decided_at"]) == clock.now()
    approved = timeline(case_of(http, agent, case_id), "action_approved")
    assert approved[0]["data"]["approvers"] == [
        finance.principal.subject,
        approver.principal.subject,
    ]
    assert approved[0]["data"]["effects"][0]["idempotency_key"] == f"{action['id']}:0"
    assert_chain_verifies(app)


def test_a_failed_effect_enqueue_rolls_back_the_approval_with_it(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    case_id = late_case(app, clock)
    action = propose(http, agent, case_id, "cancel_order", reason="customer")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:  # a stale row holding the key
        enqueue(
            uow,
            system="oms",
            operation="cancel_order",
            idempotency_key=f"{action['id']}:0",
            payload={},
            now=clock.now(),
        )
        uow.commit()

    response = http.post(f"/v1/actions/{action['id']}/approve", headers=approver.headers)
    after = http.get(f"/v1/actions/{action['id']}", headers=approver.headers).json()

    assert response.status_code == 409
    assert response.json()["type"].endswith("/duplicate-effect")
    assert after["status"] == "awaiting_approval"
    assert after["decisions"] == []
    assert case_of(http, approver, case_id)["status"] == "awaiting_approval"


def test_an_approver_the_policy_does_not_need_is_refused_with_who_is_needed(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    other = person(app, clock, tenant="acme", role=Role.APPROVER, name="dan-approver")
    case_id = late_case(app, clock, total_minor=200_000)
    action = propose(http, agent, case_id, "refund", reason="parcel lost")

    first = http.post(f"/v1/actions/{action['id']}/approve", headers=approver.headers)
    second = http.post(f"/v1/actions/{action['id']}/approve", headers=other.headers)

    assert first.status_code == 200
    assert second.status_code == 403
    assert second.json()["type"].endswith("/approver-not-qualified")
    assert "finance" in second.json()["detail"]
    assert outbox(app) == []


def test_an_expired_request_cannot_be_approved_and_the_sweep_records_why(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    case_id = late_case(app, clock)
    action = propose(http, agent, case_id, "cancel_order", reason="customer")
    clock.advance(timedelta(hours=48))

    late = http.post(f"/v1/actions/{action['id']}/approve", headers=approver.headers)
    store = default_store(app.settings)
    expired = expire_due(app.sessions, tenant_id="acme", clock=clock, evidence=store)
    expired_again = expire_due(app.sessions, tenant_id="acme", clock=clock, evidence=store)

    assert late.status_code == 409
    assert late.json()["type"].endswith("/approval-expired")
    assert "expired" in late.json()["detail"]
    assert expired == [action["id"]]
    assert expired_again == []
    case = case_of(http, approver, case_id)
    assert case["status"] == "escalated"
    (entry,) = timeline(case, "action_expired")
    assert entry["actor"] == "policy:approval-expiry"
    assert entry["data"]["rule"] == "approval-expiry"
    assert entry["data"]["policy_version"] == 0
    assert entry["data"]["inputs"]["expiry_hours"] == 48
    assert entry["data"]["inputs"]["approvals_so_far"] == []
    assert http.get(f"/v1/actions/{action['id']}", headers=agent.headers).json()["status"] == (
        "expired"
    )
    assert_chain_verifies(app)


def test_a_low_risk_action_is_approved_by_a_named_rule_that_records_what_it_saw(
    app: App, clock: FixedClock, http: TestClient, agent: Person
) -> None:
    case_id = late_case(app, clock, total_minor=5000)

    action = propose(http, agent, case_id, "refund", amount_minor=1000, reason="late delivery")

    assert action["status"] == "approved"
    assert action["auto_rule"] == "small-low-risk"
    assert action["decisions"] == []
    (message,) = outbox(app)
    assert (message.system, message.operation, message.payload["amount_minor"]) == (
        "stripe",
        "refund",
        1000,
    )
    case = case_of(http, agent, case_id)
    assert case["status"] == "approved"
    (entry,) = timeline(case, "action_approved")
    assert entry["actor"] == "policy:small-low-risk"
    assert entry["data"]["automated"] is True
    assert entry["data"]["rule"] == "small-low-risk"
    assert entry["data"]["policy_version"] == 0
    assert entry["data"]["inputs"] == {
        "kind": "refund",
        "amount_minor": 1000,
        "committed_minor": 0,
        "exposure_minor": 1000,
        "order_total_minor": 5000,
        "share": 0.2,
        "fraud_score": None,
        "customer_tier": "standard",
    }
    assert_chain_verifies(app)


def test_a_fraud_signal_turns_auto_approval_into_a_fraud_review(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    fraud = person(app, clock, tenant="acme", role=Role.FRAUD_ANALYST, name="fred-fraud")
    case_id = late_case(app, clock, total_minor=5000, fraud_score=90)

    action = propose(http, agent, case_id, "refund", amount_minor=1000, reason="late delivery")
    by_approver = http.post(f"/v1/actions/{action['id']}/approve", headers=approver.headers)
    by_fraud = http.post(f"/v1/actions/{action['id']}/approve", headers=fraud.headers)

    assert action["status"] == "awaiting_approval"
    assert action["evaluation"]["inputs"]["fraud_score"] == 0.9
    assert action["evaluation"]["required"] == ["fraud"]
    assert by_approver.status_code == 403
    assert by_fraud.status_code == 200
    assert by_fraud.json()["status"] == "approved"


def test_a_rejection_needs_a_reason_and_sends_the_case_back_to_the_desk(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    case_id = late_case(app, clock)
    action = propose(http, agent, case_id, "cancel_order", reason="customer")

    no_reason = http.post(f"/v1/actions/{action['id']}/reject", json={}, headers=approver.headers)
    rejected = http.post(
        f"/v1/actions/{action['id']}/reject",
        json={"reason": "customer asked to keep it"},
        headers=approver.headers,
    )
    approve_after = http.post(f"/v1/actions/{action['id']}/approve", headers=approver.headers)

    assert no_reason.status_code == 422
    assert rejected.status_code == 200
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["decisions"][0]["reason"] == "customer asked to keep it"
    assert approve_after.status_code == 409
    assert approve_after.json()["type"].endswith("/action-not-pending")
    assert case_of(http, agent, case_id)["status"] == "escalated"
    assert outbox(app) == []


def test_bulk_approval_decides_each_action_once_and_all_or_nothing(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    actions = [
        propose(http, agent, late_case(app, clock), "cancel_order", reason="inventory")["id"]
        for _ in range(3)
    ]
    own = propose(http, approver, late_case(app, clock), "cancel_order", reason="inventory")["id"]
    other_kind = propose(
        http, agent, late_case(app, clock), "support_handoff", summary="needs a call"
    )

    refused = http.post(
        "/v1/actions/bulk-approve",
        json={"action_ids": [*actions, own], "reason": "warehouse outage"},
        headers=approver.headers,
    )
    after_refusal = [
        http.get(f"/v1/actions/{a}", headers=agent.headers).json()["status"] for a in actions
    ]
    mixed = http.post(
        "/v1/actions/bulk-approve",
        json={"action_ids": [actions[0], other_kind["id"]]},
        headers=approver.headers,
    )
    done = http.post(
        "/v1/actions/bulk-approve",
        json={"action_ids": actions, "reason": "warehouse outage"},
        headers=approver.headers,
    )

    assert refused.status_code == 403
    assert after_refusal == ["awaiting_approval"] * 3
    assert mixed.status_code == 422
    assert done.status_code == 200, done.text
    decided = done.json()
    assert [a["status"] for a in decided] == ["approved"] * 3
    bulk_ids = {a["decisions"][0]["bulk_id"] for a in decided}
    assert len(bulk_ids) == 1
    assert None not in bulk_ids
    assert [len(a["decisions"]) for a in decided] == [1, 1, 1]
    cancels = [m.idempotency_key for m in outbox(app) if m.operation == "cancel_order"]
    assert sorted(cancels) == sorted(f"{a}:0" for a in actions)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        bulk = [
            r.data["action_ids"]
            for r in uow.session.scalars(
                select(AuditRecord).where(AuditRecord.action == "actions.bulk_approved")
            )
        ]
    assert bulk == [actions]
    assert_chain_verifies(app)


def test_revoked_keys_and_disabled_people_are_turned_away(
    app: App, clock: FixedClock, http: TestClient, agent: Person
) -> None:
    admin = person(app, clock, tenant="acme", role=Role.ADMIN, name="ada-admin")
    before = http.get("/v1/cases", headers=agent.headers)
    revoked = http.post(f"/v1/admin/keys/{agent.principal.key_id}/revoke", headers=admin.headers)
    after_revoke = http.get("/v1/cases", headers=agent.headers)
    other = person(app, clock, tenant="acme", role=Role.AGENT, name="eve-agent")
    disabled = http.post(f"/v1/admin/users/{other.user_id}/disable", headers=admin.headers)
    after_disable = http.get("/v1/cases", headers=other.headers)
    keys = {k["id"]: k for k in http.get("/v1/admin/keys", headers=admin.headers).json()}

    assert before.status_code == 200
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert after_revoke.status_code == 401
    assert after_revoke.headers["www-authenticate"] == "Bearer"
    assert disabled.json()["disabled_at"] is not None
    assert after_disable.status_code == 401
    assert keys[agent.principal.key_id]["last_used_at"] is not None
    assert keys[other.principal.key_id]["last_used_at"] is None
    assert_chain_verifies(app)
