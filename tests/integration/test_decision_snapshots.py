"""Every decision names a snapshot of the facts it was taken on, and the snapshot stays put.

The snapshot's blob id is in the decision's timeline entry and its audit record; the blob
is fetched back through the evidence API and holds the order as it was at that moment,
whatever happens to the order afterwards.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person, late_case, person
from builders.events import cancelled
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.decide.approvals import expire_due
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.evidence.service import default_store
from orderops.storage.tables import AuditRecord, Case
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items


def propose(http: TestClient, who: Person, case_id: str, kind: str, **params: Any) -> str:
    response = http.post(
        f"/v1/cases/{case_id}/actions", json={"kind": kind, "params": params}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    action_id: str = response.json()["id"]
    return action_id


def audit_data(app: App, case_id: str, action: str) -> list[dict[str, Any]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return [
            dict(r.data)
            for r in uow.session.scalars(
                select(AuditRecord)
                .where(
                    AuditRecord.tenant_id == "acme",
                    AuditRecord.entity_id == case_id,
                    AuditRecord.action == action,
                )
                .order_by(AuditRecord.seq)
            )
        ]


def fetch(http: TestClient, who: Person, sha256: str) -> bytes:
    response = http.get(f"/v1/evidence/{sha256}", headers=who.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.content


def timeline_entry(http: TestClient, who: Person, case_id: str, kind: str) -> dict[str, Any]:
    body = http.get(f"/v1/cases/{case_id}", headers=who.headers).json()
    (entry,) = [e for e in body["timeline"] if e["kind"] == kind]
    found: dict[str, Any] = entry
    return found


def order_ref_of(app: App, case_id: str) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        return case.order_ref


def test_an_approval_keeps_the_order_as_it_was_when_approved(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    case_id = late_case(app, clock, total_minor=5000)
    action_id = propose(http, agent, case_id, "cancel_order", reason="customer")
    approved = http.post(f"/v1/actions/{action_id}/approve", headers=approver.headers)
    assert approved.status_code == 200, approved.text
    (record,) = audit_data(app, case_id, "case.action_approved")
    sha = record["snapshot"]
    before = fetch(http, agent, sha)

    clock.advance(timedelta(hours=1))
    order_ref = order_ref_of(app, case_id)
    report = ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[cancelled(order_ref, at=clock.now())],
        channel="test",
        clock=clock,
    )
    assert report.rejected == []
    taken_now = http.post(f"/v1/cases/{case_id}/snapshots", headers=agent.headers)
    assert taken_now.status_code == 201, taken_now.text

    frozen = json.loads(before)
    assert frozen["order"]["order_ref"] == order_ref
    assert frozen["order"]["total_minor"] == 5000
    assert frozen["order"]["cancelled_at"] is None
    assert [p["status"] for p in frozen["payments"]] == ["captured"]
    assert frozen["case"]["id"] == case_id
    assert fetch(http, agent, sha) == before
    assert taken_now.json()["sha256"] != sha
    now_facts = json.loads(fetch(http, agent, taken_now.json()["sha256"]))
    assert now_facts["order"]["cancelled_at"] is not None
    assert timeline_entry(http, agent, case_id, "action_approved")["data"]["snapshot"] == sha
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def test_each_decision_names_a_snapshot_that_the_evidence_api_serves(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    finance = person(app, clock, tenant="acme", role=Role.FINANCE_APPROVER, name="fay")
    two_people = propose(
        http, agent, late_case(app, clock, total_minor=200_000), "refund", reason="parcel lost"
    )
    http.post(f"/v1/actions/{two_people}/approve", headers=finance.headers)
    rejected_case = late_case(app, clock)
    rejected = propose(http, agent, rejected_case, "cancel_order", reason="customer")
    http.post(
        f"/v1/actions/{rejected}/reject", json={"reason": "not needed"}, headers=approver.headers
    )
    auto_case = late_case(app, clock, total_minor=5000)
    propose(http, agent, auto_case, "refund", amount_minor=1000, reason="late delivery")
    expiring_case = late_case(app, clock)
    expiring = propose(http, agent, expiring_case, "cancel_order", reason="customer")
    clock.advance(timedelta(hours=49))
    expired = expire_due(
        app.sessions, tenant_id="acme", clock=clock, evidence=default_store(app.settings)
    )

    decisions = {
        "proposal": audit_data(app, auto_case, "case.action_proposed"),
        "approval recorded": [
            d
            for case_id in _case_ids(app)
            for d in audit_data(app, case_id, "case.approval_recorded")
        ],
        "rejection": audit_data(app, rejected_case, "case.action_rejected"),
        "auto-approval": audit_data(app, auto_case, "case.action_approved"),
        "expiry": audit_data(app, expiring_case, "case.action_expired"),
    }
    # The half-approved refund was still awaiting its second approver: it expires too.
    assert set(expired) == {two_people, expiring}
    for name, records in decisions.items():
        assert len(records) == 1, name
        frozen = json.loads(fetch(http, agent, records[0]["snapshot"]))
        assert frozen["format"] == "orderops.snapshot/1", name
    assert decisions["auto-approval"][0]["snapshot"] == decisions["proposal"][0]["snapshot"]
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def _case_ids(app: App) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return list(uow.session.scalars(select(Case.id).where(Case.tenant_id == "acme")))
