"""An incident's page in the console acts on all its cases at once, within policy.

Each case goes through its single button's service: one proposal per case, judged by
its own order's remedy room; maker-checker refuses the proposer's own approval case by
case; the answer names each case's outcome, and the audit holds one entry per case.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import late_case
from builders.console import console_person, csrf_of, signed_in
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import Action
from orderops.storage.tables.audit import AuditRecord
from orderops.storage.tables.incidents import Incident
from orderops.storage.uow import UnitOfWork


def _storm(app: App, clock: FixedClock, totals: list[int]) -> tuple[str, list[str]]:
    """Cases on orders of these totals (cents), grouped under one open incident."""
    case_ids = [late_case(app, clock, total_minor=t) for t in totals]
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        incident = Incident(
            tenant_id="acme",
            key="shipment_late|lane:ups:WH-1:DE",
            type="shipment_late",
            dimension="lane",
            summary="Parcels late on ups WH-1 to DE",
            opened_at=clock.now(),
            case_count=len(case_ids),
        )
        uow.session.add(incident)
        uow.session.flush()
        for case_id in case_ids:
            case = uow.cases.get(case_id)
            assert case is not None
            case.incident_id = incident.id
        uow.commit()
        return incident.id, case_ids


def _bulk(client: TestClient, page: str, case_ids: list[str], **fields: str) -> str:
    token = csrf_of(client.get(page).text)
    answer = client.post(
        "/console/bulk", data={"csrf": token, "case": case_ids, "back": page, **fields}
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def _outcomes(html: str) -> tuple[list[str], dict[str, str]]:
    """The case ids done, and each refused case id with its reason."""
    done = re.findall(r'<li><a href="/console/cases/([0-9a-f]+)">', html)
    refused = dict(
        re.findall(
            r'<tr><th scope="row"><a href="/console/cases/([0-9a-f]+)">[^<]*</a></th><td>([^<]*)',
            html,
        )
    )
    return done, refused


def test_the_incident_list_and_page_show_its_open_cases_by_order_name(
    app: App, clock: FixedClock
) -> None:
    incident_id, case_ids = _storm(app, clock, [5_000, 5_000])
    agent = signed_in(app, console_person(app, clock, role=Role.AGENT))

    listing = agent.get("/console/incidents").text
    assert f'href="/console/incidents/{incident_id}">Parcels late on ups WH-1 to DE</a>' in listing

    page = agent.get(f"/console/incidents/{incident_id}")
    assert page.status_code == 200
    ticks = re.findall(
        r'name="case" value="([0-9a-f]+)"[^>]*aria-label="Tick #1001" checked', page.text
    )
    assert sorted(ticks) == sorted(case_ids)
    assert 'action="/console/bulk" id="incident-bulk"' in page.text
    # kinds tied to one order's lines or SKUs are not offered for the whole storm
    kinds = set(re.findall(r'<option value="([a-z_]+)"', page.text.split('id="propose-kind"')[1]))
    assert {"refund", "hold_fulfillment", "support_handoff"} <= kinds
    assert not {"reship", "cancel_line", "substitute"} & kinds

    form = agent.get(f"/console/incidents/{incident_id}?propose=refund").text
    assert 'name="f.amount_minor"' in form
    assert 'form="incident-bulk"' in form
    assert 'value="propose"' in form


def test_proposing_to_an_incident_judges_each_case_by_its_own_order(
    app: App, clock: FixedClock
) -> None:
    incident_id, case_ids = _storm(app, clock, [5_000, 5_000, 2_000])
    small = case_ids[2]
    agent = signed_in(app, console_person(app, clock, role=Role.AGENT, name="Ann Agent"))
    page = f"/console/incidents/{incident_id}"

    answer = _bulk(
        agent,
        page,
        case_ids,
        op="propose",
        kind="refund",
        **{"f.amount_minor": "30.00", "f.reason": "lane stalled"},
    )

    done, refused = _outcomes(answer)
    assert sorted(done) == sorted(case_ids[:2]), answer[answer.find("<h1") :]
    assert list(refused) == [small]  # 30.00 is more than its 20.00 order leaves to refund
    assert "Bulk propose: 2 done, 1 refused" in answer
    assert f'href="{page}">Back to the incident' in answer
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        proposed = uow.session.execute(
            select(Action.case_id, Action.kind, Action.params).where(Action.tenant_id == "acme")
        ).all()
        audit = uow.session.scalars(
            select(AuditRecord.entity_id).where(
                AuditRecord.tenant_id == "acme",
                AuditRecord.action == "case.action_proposed",
                AuditRecord.entity_id.in_(case_ids),
            )
        ).all()
    assert sorted((c, k, p["amount_minor"]) for c, k, p in proposed) == sorted(
        (c, "refund", 3000) for c in case_ids[:2]
    )
    assert sorted(audit) == sorted(case_ids[:2])  # one entry per case proposed


def test_approving_an_incident_in_bulk_keeps_maker_checker_case_by_case(
    app: App, clock: FixedClock
) -> None:
    incident_id, case_ids = _storm(app, clock, [5_000, 5_000])
    page = f"/console/incidents/{incident_id}"
    approver = signed_in(app, console_person(app, clock, role=Role.APPROVER))
    _bulk(
        approver,
        page,
        case_ids,
        op="propose",
        kind="refund",
        **{"f.amount_minor": "30.00", "f.reason": "lane stalled"},
    )

    own = _bulk(approver, page, case_ids, op="approve")
    done, refused = _outcomes(own)
    assert done == []
    assert set(refused) == set(case_ids)  # the proposer may not approve their own

    other = signed_in(app, console_person(app, clock, role=Role.APPROVER))
    approved = _bulk(other, page, case_ids, op="approve")
    done, refused = _outcomes(approved)
    assert sorted(done) == sorted(case_ids), approved[approved.find("<h1") :]
    assert refused == {}
