"""Policy versions: a change is a new audited version; cases keep their pin until re-evaluated."""

from __future__ import annotations

import copy
from typing import Any

from fastapi.testclient import TestClient

from builders.access import Person, late_case
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.domain.approval_policy import DEFAULT_POLICY
from orderops.domain.clock import FixedClock
from orderops.storage.uow import UnitOfWork

LIMIT = "kinds.refund.auto_approve[0].when.amount_at_most_minor"


def raised_limit(limit: int) -> dict[str, Any]:
    body = copy.deepcopy(DEFAULT_POLICY.body())
    body["kinds"]["refund"]["auto_approve"][0]["when"]["amount_at_most_minor"] = limit
    return body


def refund(http: TestClient, who: Person, case_id: str, amount: int) -> dict[str, Any]:
    response = http.post(
        f"/v1/cases/{case_id}/actions",
        json={"kind": "refund", "params": {"amount_minor": amount, "reason": "late"}},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_change_is_a_new_version_audited_with_its_diff(
    app: App, http: TestClient, admin: Person
) -> None:
    before = http.get("/v1/admin/approval-policy", headers=admin.headers).json()
    changed = http.put(
        "/v1/admin/approval-policy",
        json={"policy": raised_limit(10_000), "note": "peak season"},
        headers=admin.headers,
    )
    same_again = http.put(
        "/v1/admin/approval-policy", json={"policy": raised_limit(10_000)}, headers=admin.headers
    )
    invalid = http.put(
        "/v1/admin/approval-policy",
        json={"policy": {"expiry_hours": 0, "kinds": {"teleport": {}}}},
        headers=admin.headers,
    )
    versions = http.get("/v1/admin/approval-policy/versions", headers=admin.headers).json()

    assert before["version"] == 0
    assert changed.status_code == 200
    assert changed.json() == {
        "version": 1,
        "previous_version": 0,
        "changed": True,
        "changes": [{"path": LIMIT, "before": 2500, "after": 10_000}],
    }
    assert same_again.json()["changed"] is False
    assert same_again.json()["version"] == 1
    assert invalid.status_code == 422
    assert "expiry_hours" in invalid.json()["detail"]
    assert "teleport" in invalid.json()["detail"]
    assert [v["version"] for v in versions] == [0, 1]
    assert versions[1]["note"] == "peak season"
    assert versions[1]["created_by"] == admin.principal.subject
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        audits = [
            (r.actor, r.data["version"], r.data["changes"])
            for r in uow.audit.for_entity("approval_policy", "1")
        ]
    assert audits == [
        (admin.principal.subject, 1, [{"path": LIMIT, "before": 2500, "after": 10_000}])
    ]
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def test_a_case_keeps_its_pinned_version_until_re_evaluated_explicitly(
    app: App, clock: FixedClock, http: TestClient, admin: Person, agent: Person
) -> None:
    pinned_case = late_case(app, clock, total_minor=20_000)
    first = refund(http, agent, pinned_case, 3000)
    http.put(
        "/v1/admin/approval-policy", json={"policy": raised_limit(10_000)}, headers=admin.headers
    )
    # a second refund would wait behind the first (one per order awaits approval), so the
    # pinned case's next proposal is a credit: judged under v0, with the waiting 3000 counted
    credit = http.post(
        f"/v1/cases/{pinned_case}/actions",
        json={"kind": "store_credit", "params": {"amount_minor": 4000, "reason": "late"}},
        headers=agent.headers,
    )
    assert credit.status_code == 201, credit.text
    second_on_pinned = credit.json()
    fresh_case = late_case(app, clock, total_minor=20_000)
    on_fresh = refund(http, agent, fresh_case, 4000)

    reevaluated = http.post("/v1/admin/approval-policy/reevaluate", json={}, headers=admin.headers)

    assert (first["status"], first["policy_version"]) == ("awaiting_approval", 0)
    assert (second_on_pinned["status"], second_on_pinned["policy_version"]) == (
        "awaiting_approval",
        0,
    )
    assert (on_fresh["status"], on_fresh["policy_version"], on_fresh["auto_rule"]) == (
        "approved",
        1,
        "small-low-risk",
    )
    assert reevaluated.status_code == 200
    (result,) = reevaluated.json()
    assert (result["case_id"], result["from_version"], result["to_version"]) == (
        pinned_case,
        0,
        1,
    )
    assert [c["action_id"] for c in result["actions"]] == [first["id"], second_on_pinned["id"]]
    # v1 raised only the refund limit; the credit (3000 + 4000 in all) still needs a person
    assert [c["outcome"] for c in result["actions"]] == ["auto_approved", "awaiting_approval"]
    change = result["actions"][0]
    assert (change["before"]["policy_version"], change["after"]["policy_version"]) == (0, 1)
    assert (change["before"]["required"], change["after"]["required"]) == (["approver"], [])
    assert change["after"]["auto_rule"] == "small-low-risk"
    case = http.get(f"/v1/cases/{pinned_case}", headers=agent.headers).json()
    (entry,) = [e for e in case["timeline"] if e["kind"] == "policy_reevaluated"]
    assert (entry["data"]["from_version"], entry["data"]["to_version"]) == (0, 1)
    after = http.get(f"/v1/actions/{first['id']}", headers=agent.headers).json()
    assert after["policy_version"] == 1
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def test_re_evaluation_approves_what_the_new_version_auto_approves(
    app: App, clock: FixedClock, http: TestClient, admin: Person, agent: Person
) -> None:
    case_id = late_case(app, clock, total_minor=10_000)
    waiting = refund(http, agent, case_id, 3000)
    http.put(
        "/v1/admin/approval-policy", json={"policy": raised_limit(5000)}, headers=admin.headers
    )

    (result,) = http.post(
        "/v1/admin/approval-policy/reevaluate", json={"to_version": 1}, headers=admin.headers
    ).json()
    again = http.post("/v1/admin/approval-policy/reevaluate", json={}, headers=admin.headers)

    assert waiting["status"] == "awaiting_approval"
    assert result["actions"][0]["outcome"] == "auto_approved"
    assert result["actions"][0]["after"]["auto_rule"] == "small-low-risk"
    action = http.get(f"/v1/actions/{waiting['id']}", headers=agent.headers).json()
    assert (action["status"], action["auto_rule"]) == ("approved", "small-low-risk")
    case = http.get(f"/v1/cases/{case_id}", headers=agent.headers).json()
    assert case["status"] == "approved"
    assert again.json() == []
