"""The console over HTTP (no browser): sign-in, CSRF, role-gated pages and decisions.

Each check is made against the server, not the page: a button that is not shown must also
be refused when posted directly.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from builders.access import late_case
from builders.console import (
    PASSWORD,
    console_person,
    csrf_of,
    post_form,
    signed_in,
)
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.console import pages_work
from orderops.console.accounts import LOGIN_REFUSED
from orderops.decide.actions import list_for_case
from orderops.decide.policy_versions import read_version
from orderops.domain.actions import ActionStatus
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.uow import UnitOfWork
from orderops.writeback.admin import OutboxFilter, list_messages


def test_pages_need_a_session_and_sign_in_returns_to_the_page_asked_for(
    app: App, clock: FixedClock
) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    client = TestClient(create_app(app), follow_redirects=False)

    refused = client.get("/console/dashboards?from=2026-11-01")
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/console/login?next=/console/dashboards")

    login = client.get(refused.headers["location"])
    answer = client.post(
        "/console/login",
        data={
            "csrf": csrf_of(login.text),
            "tenant": "acme",
            "email": person.email.upper(),
            "password": PASSWORD,
            "next": "/console/dashboards?from=2026-11-01",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/dashboards?from=2026-11-01"
    assert client.get("/console/queues").status_code == 200


@pytest.mark.parametrize(
    ("tenant", "password"),
    [("acme", "wrong password!"), ("globex", PASSWORD), ("nowhere", PASSWORD)],
)
def test_a_refused_sign_in_does_not_say_which_part_was_wrong(
    app: App, clock: FixedClock, tenant: str, password: str
) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    client = TestClient(create_app(app), follow_redirects=False)
    login = client.get("/console/login")
    answer = client.post(
        "/console/login",
        data={
            "csrf": csrf_of(login.text),
            "tenant": tenant,
            "email": person.email,
            "password": password,
        },
    )
    assert answer.status_code == 401
    assert LOGIN_REFUSED in answer.text
    assert "oo_session" not in answer.cookies


def test_a_forged_or_missing_session_cookie_is_not_a_session(app: App) -> None:
    client = TestClient(create_app(app), follow_redirects=False)
    client.cookies.set("oo_session", "eyJ1IjoieCJ9.forged")
    assert client.get("/console/queues").status_code == 303


def test_sign_out_ends_the_session(app: App, clock: FixedClock) -> None:
    client = signed_in(app, console_person(app, clock, role=Role.VIEWER))
    answer = post_form(client, "/console/queues", "/console/logout")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert client.get("/console/queues").status_code == 303


def test_a_disabled_person_is_signed_out_at_their_next_request(app: App, clock: FixedClock) -> None:
    from orderops.tenancy.users import disable_user

    person = console_person(app, clock, role=Role.AGENT)
    client = signed_in(app, person)
    disable_user(app.sessions, tenant_id="acme", user_id=person.user_id, clock=clock, actor="t")
    assert client.get("/console/queues").status_code == 303


def test_a_form_without_this_sessions_csrf_token_is_refused(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock)
    client = signed_in(app, console_person(app, clock, role=Role.AGENT))
    answer = client.post(f"/console/cases/{case_id}/claim", data={"csrf": "not-the-token"})
    assert answer.status_code == 403
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        assert case.assignee is None


def test_claim_from_the_queue_then_release(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock)
    person = console_person(app, clock, role=Role.AGENT, name="Ann Agent")
    client = signed_in(app, person)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        assert case.queue is not None
        queue, version = case.queue, case.version
    queue_page = client.get(f"/console/queues/{queue}")
    assert queue_page.status_code == 200
    assert case_id in queue_page.text

    post_form(
        client,
        f"/console/queues/{queue}",
        f"/console/cases/{case_id}/claim",
        version=str(version),
    )
    mine = client.get(f"/console/queues/{queue}?assignee=me")
    others = client.get(f"/console/queues/{queue}?assignee=none")
    assert case_id in mine.text
    assert case_id not in others.text

    page = client.get(f"/console/cases/{case_id}")
    assert "Release" in page.text
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        current = uow.cases.get(case_id)
        assert current is not None
        assert current.assignee == "Ann Agent"
        version = current.version
    post_form(
        client,
        f"/console/cases/{case_id}",
        f"/console/cases/{case_id}/release",
        version=str(version),
    )
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        released = uow.cases.get(case_id)
        assert released is not None
        assert released.assignee is None


def test_a_stale_version_is_refused_and_the_page_says_so(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock)
    client = signed_in(app, console_person(app, clock, role=Role.AGENT))
    answer = post_form(
        client,
        f"/console/cases/{case_id}",
        f"/console/cases/{case_id}/claim",
        version="999",
    )
    assert answer.status_code == 303  # type: ignore[attr-defined]
    page = client.get(answer.headers["location"])  # type: ignore[attr-defined]
    assert "not 999" in page.text


def test_the_proposer_sees_no_approve_button_and_is_refused_when_posting_anyway(
    app: App, clock: FixedClock
) -> None:
    case_id = late_case(app, clock)
    maker = signed_in(app, console_person(app, clock, role=Role.APPROVER, name="Maker"))
    checker = signed_in(app, console_person(app, clock, role=Role.APPROVER, name="Checker"))
    viewer = signed_in(app, console_person(app, clock, role=Role.VIEWER, name="Vera"))

    post_form(
        maker,
        f"/console/cases/{case_id}",
        f"/console/cases/{case_id}/actions",
        kind="refund",
        **{"f.reason": "the parcel is a week late"},
    )
    (action,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert action.status == ActionStatus.AWAITING_APPROVAL

    approve_url = f"/console/actions/{action.id}/approve"
    assert approve_url not in maker.get(f"/console/cases/{case_id}").text
    assert approve_url not in viewer.get(f"/console/cases/{case_id}").text
    assert approve_url in checker.get(f"/console/cases/{case_id}").text

    own = post_form(maker, f"/console/cases/{case_id}", approve_url)
    assert own.status_code == 403  # type: ignore[attr-defined]
    assert "another person must approve" in own.text  # type: ignore[attr-defined]
    by_viewer = post_form(viewer, f"/console/cases/{case_id}", approve_url)
    assert by_viewer.status_code == 403  # type: ignore[attr-defined]
    (still,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert still.status == ActionStatus.AWAITING_APPROVAL

    done = post_form(checker, f"/console/cases/{case_id}", approve_url, reason="fine")
    assert done.status_code == 303  # type: ignore[attr-defined]
    (approved,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert approved.status == ActionStatus.APPROVED
    assert [d.approver for d in approved.decisions] == [checker_subject(app, "Checker")]
    page = checker.get(f"/console/cases/{case_id}").text
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (effect,) = list_messages(uow, OutboxFilter(case_id=case_id)).items
        step = f"{effect.system}.{effect.operation}"
    assert step in page


def checker_subject(app: App, name: str) -> str:
    from orderops.tenancy.users import list_users

    (user,) = [u for u in list_users(app.sessions, tenant_id="acme") if u.display_name == name]
    return user.subject


def test_another_tenants_case_is_not_found(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock, tenant="globex")
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))
    assert client.get(f"/console/cases/{case_id}").status_code == 404


def test_dashboards_render_charts_and_export_the_same_figures_as_csv(
    app: App, clock: FixedClock
) -> None:
    late_case(app, clock)
    late_case(app, clock)
    client = signed_in(app, console_person(app, clock, role=Role.VIEWER))
    day = clock.now().date()
    span = f"from={day - timedelta(days=2)}&to={day}"
    page = client.get(f"/console/dashboards?{span}")
    assert page.status_code == 200
    assert page.text.count("<svg") >= 8
    csv = client.get(f"/console/dashboards.csv?{span}")
    assert csv.headers["content-type"].startswith("text/csv")
    # each late order was also paid and never handed to a carrier: stuck as well
    assert f"volume,{day} shipment_late,2" in csv.text.replace(".0", "")
    assert f"volume,{day} stuck_order,2" in csv.text.replace(".0", "")
    assert "customer_impact,cases,4" in csv.text
    assert client.get("/console/dashboards?from=2026-13-01").status_code == 422


def test_policy_changes_are_validated_and_diffed_before_they_are_saved(
    app: App, clock: FixedClock
) -> None:
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))
    before = read_version(app.sessions, tenant_id="acme")
    bad = post_form(client, "/console/admin/policy", "/console/admin/policy/preview", policy="[1")
    assert bad.status_code == 422  # type: ignore[attr-defined]

    import yaml

    body = dict(before.body)
    body["expiry_hours"] = int(body["expiry_hours"]) + 24
    text = yaml.safe_dump(body, sort_keys=False)
    preview = post_form(
        client, "/console/admin/policy", "/console/admin/policy/preview", policy=text
    )
    assert "expiry_hours" in preview.text  # type: ignore[attr-defined]
    assert read_version(app.sessions, tenant_id="acme").version == before.version
    saved = client.post(
        "/console/admin/policy",
        data={"csrf": csrf_of(preview.text), "policy": text, "note": "longer"},  # type: ignore[attr-defined]
    )
    assert saved.status_code == 303
    assert read_version(app.sessions, tenant_id="acme").version == before.version + 1


@pytest.mark.parametrize(
    ("role", "path", "allowed"),
    [
        (Role.AGENT, "/console/admin/policy", False),
        (Role.AGENT, "/console/admin/users", False),
        (Role.AGENT, "/console/audit", False),
        (Role.APPROVER, "/console/audit", True),
        (Role.ADMIN, "/console/admin/users", True),
    ],
)
def test_admin_and_audit_pages_follow_the_role(
    app: App, clock: FixedClock, role: Role, path: str, allowed: bool
) -> None:
    client = signed_in(app, console_person(app, clock, role=role))
    assert client.get(path).status_code == (200 if allowed else 403)


def test_the_audit_chain_verifies_from_the_console(app: App, clock: FixedClock) -> None:
    late_case(app, clock)
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))
    result = post_form(client, "/console/audit", "/console/audit/verify")
    assert "The chain verified" in result.text  # type: ignore[attr-defined]


def test_live_fingerprint_changes_when_the_case_does(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock)
    client = signed_in(app, console_person(app, clock, role=Role.AGENT))
    before = client.get(f"/console/live/cases/{case_id}").json()["stamp"]
    assert client.get(f"/console/live/cases/{case_id}").json()["stamp"] == before
    post_form(client, f"/console/cases/{case_id}", f"/console/cases/{case_id}/claim")
    assert client.get(f"/console/live/cases/{case_id}").json()["stamp"] != before


def test_root_and_static_assets_are_served_from_the_package(app: App) -> None:
    client = TestClient(create_app(app), follow_redirects=False)
    assert client.get("/").headers["location"] == "/console/queues"
    css = client.get("/console/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert client.get("/console/static/..%2Fweb.py").status_code == 404
    # a browser asks every page for an icon: one that is not there is a 404 in its console
    icon = client.get("/console/static/favicon.svg")
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert 'rel="icon" href="/console/static/favicon.svg"' in client.get("/console/login").text


def _flash(client: TestClient, answer: object) -> str:
    """The page a POST redirected to, where its flash message shows."""
    assert answer.status_code == 303  # type: ignore[attr-defined]
    return client.get(answer.headers["location"]).text  # type: ignore[attr-defined]


def _message_of(app: App, case_id: str) -> tuple[str, int, str]:
    from orderops.decide.communications import history

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (message,) = history(uow, case_id)
        return message.id, message.version, message.status


def test_the_recommend_button_stores_a_recommendation_the_case_page_lists(
    app: App, clock: FixedClock
) -> None:
    from orderops.recommend.service import recommendations_for

    case_id = late_case(app, clock)
    agent = signed_in(app, console_person(app, clock, role=Role.AGENT))
    viewer = signed_in(app, console_person(app, clock, role=Role.VIEWER))
    button = f'action="/console/cases/{case_id}/recommend"'
    assert button in agent.get(f"/console/cases/{case_id}").text
    assert button not in viewer.get(f"/console/cases/{case_id}").text
    refused = post_form(viewer, f"/console/cases/{case_id}", f"/console/cases/{case_id}/recommend")
    assert refused.status_code == 403  # type: ignore[attr-defined]

    answer = post_form(agent, f"/console/cases/{case_id}", f"/console/cases/{case_id}/recommend")
    page = _flash(agent, answer)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (stored,) = recommendations_for(uow, case_id)
    top = stored["candidates"][0]
    assert f"Recommended {stored['top_rule']}." in page
    assert "No recommendations yet." not in page
    made = datetime.fromisoformat(stored["created_at"])
    assert f"{made:%Y-%m-%d %H:%M} · " in page  # as every moment shows, not the raw ISO text
    assert f"{stored['created_at']} · " not in page
    assert escape(top["rationale"]) in page
    assert f"cost {top['cost_minor'] / 100:,.2f}" in page
    for draft in stored["drafts"]:
        assert escape(draft["body"]) in page


@pytest.mark.parametrize("where", ["body", "subject"])
def test_an_edited_draft_is_fact_checked_and_a_failing_one_cannot_be_approved(
    app: App, clock: FixedClock, where: str
) -> None:
    case_id = late_case(app, clock, total_minor=5000)
    writer = signed_in(app, console_person(app, clock, role=Role.AGENT))
    approver = signed_in(app, console_person(app, clock, role=Role.APPROVER))
    case_url = f"/console/cases/{case_id}"
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        version = case.version
    correct = {"subject": "Your order", "body": "Your order of $50.00 is late; sorry."}
    post_form(
        writer, case_url, f"{case_url}/messages", version=str(version), channel="email", **correct
    )
    message_id, message_version, _ = _message_of(app, case_id)
    assert "Fact check passed." in writer.get(case_url).text

    wrong = {**correct, where: f"{correct[where]} We owe you $73.21."}
    edited = post_form(
        writer,
        case_url,
        f"/console/messages/{message_id}/edit",
        version=str(message_version),
        **wrong,
    )
    page = _flash(writer, edited)
    assert "The fact checker found 1 problem(s)" in page
    assert "amount $73.21 is not one of the case&#39;s" in page
    _, message_version, _ = _message_of(app, case_id)
    approve_url = f"/console/messages/{message_id}/approve"
    assert approve_url not in approver.get(case_url).text

    refused = post_form(approver, case_url, approve_url, version=str(message_version))
    assert "this message cannot be approved" in _flash(approver, refused)
    assert _message_of(app, case_id)[2] == "drafted"

    post_form(
        writer,
        case_url,
        f"/console/messages/{message_id}/edit",
        version=str(message_version),
        **correct,
    )
    _, message_version, _ = _message_of(app, case_id)
    assert approve_url in approver.get(case_url).text
    done = post_form(approver, case_url, approve_url, version=str(message_version))
    assert "Message approved." in _flash(approver, done)
    assert _message_of(app, case_id)[2] == "approved"


def test_the_queue_shows_and_sorts_by_the_impact_score_the_case_carries(
    app: App, clock: FixedClock
) -> None:
    low, high = late_case(app, clock, total_minor=2_000), late_case(app, clock, total_minor=90_000)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        cases = {case_id: uow.cases.get(case_id) for case_id in (low, high)}
        scores = {case_id: case.impact_score for case_id, case in cases.items() if case}
        queue = cases[high].queue if cases[high] else None
    assert scores[high] is not None
    assert scores[low] is not None
    assert scores[high] > scores[low]  # the scorer weighs the order's value
    client = signed_in(app, console_person(app, clock, role=Role.AGENT, name="Ann Agent"))

    page = client.get(f"/console/queues/{queue}?sort=impact").text

    assert page.index(high) < page.index(low)
    assert f"<td>{scores[high]}</td>" in page


def test_the_queue_shows_its_most_urgent_rows_first_and_all_of_them_when_asked(
    app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages_work, "SHOWN_ROWS", 2)
    ids = [late_case(app, clock, total_minor=total) for total in (2_000, 90_000, 40_000)]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        queues = {c.queue for c in (uow.cases.get(i) for i in ids) if c}
    assert len(queues) == 1
    client = signed_in(app, console_person(app, clock, role=Role.AGENT, name="Ann Agent"))

    def opened(page: str) -> list[str]:
        return re.findall(r'<a data-open href="/console/cases/([0-9a-f]+)"', page)

    first = client.get(f"/console/queues/{queues.pop()}?sort=impact").text
    link = re.search(r'<a href="([^"]+)">Show all (\d+)</a>', first)
    assert link is not None
    every = client.get(html.unescape(link.group(1))).text

    assert len(opened(every)) == int(link.group(2)) > 2
    assert f"{link.group(2)} open case(s), the first 2 shown" in first
    assert opened(first) == opened(every)[:2]  # the most urgent, by the sort asked for
    assert every.index(ids[1]) < every.index(ids[2]) < every.index(ids[0])  # by impact
    assert "Show all" not in every
