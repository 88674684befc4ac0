"""Audit records name who acted by a stable id (``user:<id>``, ``key:<id>``), never by a
display name: names change and can be shared, so a record signed by "Ann" proves nothing.

Holding a case is still by display name (queues list their members by name); only the
record of who acted changes.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import late_case, legacy_key
from builders.console import console_person, post_form, signed_in
from builders.database_roles import owner_sessions
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork


def records_about(app: App, case_id: str) -> list[AuditRecord]:
    with owner_sessions(app)() as session:
        return list(
            session.scalars(
                select(AuditRecord)
                .where(AuditRecord.tenant_id == "acme", AuditRecord.entity_id == case_id)
                .order_by(AuditRecord.seq)
            )
        )


def case_version(app: App, case_id: str) -> int:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        return case.version


def test_console_work_is_audited_under_the_persons_id(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock)
    person = console_person(app, clock, role=Role.AGENT, name="Ann Agent")
    client = signed_in(app, person)
    page = f"/console/cases/{case_id}"

    post_form(client, page, f"{page}/claim", version=str(case_version(app, case_id)))
    post_form(client, page, f"{page}/move", version=str(case_version(app, case_id)), move="triage")

    mine = [r for r in records_about(app, case_id) if r.action in ("case.claimed", "case.triaged")]
    assert [r.action for r in mine] == ["case.claimed", "case.triaged"]
    assert {r.actor for r in mine} == {f"user:{person.user_id}"}
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        assert case.assignee == "Ann Agent"


def test_api_work_is_audited_under_the_keys_id(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock)
    key = legacy_key(app, tenant_id="acme", name="Shared Bot", role=Role.AGENT, clock=clock)
    client = TestClient(create_app(app), headers={"Authorization": f"Bearer {key.secret}"})

    answer = client.post(f"/v1/cases/{case_id}/claim", json={"version": case_version(app, case_id)})

    assert answer.status_code == 200, answer.text
    (claimed,) = [r for r in records_about(app, case_id) if r.action == "case.claimed"]
    assert claimed.actor == f"key:{key.key_id}"
    assert answer.json()["assignee"] == "Shared Bot"
