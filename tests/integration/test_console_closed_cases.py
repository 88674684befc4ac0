"""A resolved case takes no new work from the console: the page offers no Recommend,
Apply or Propose, and a form posted anyway (a page left open, a replay) is refused with
a message that says why, on the case page it came from, with nothing written."""

from __future__ import annotations

from fastapi.testclient import TestClient

from builders.access import late_case
from builders.console import console_person, csrf_of, post_form, signed_in
from orderops.bootstrap import App
from orderops.decide.actions import list_for_case
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.recommend.service import recommendations_for
from orderops.storage.uow import UnitOfWork


def _resolved_case_with_a_recommendation(
    app: App, clock: FixedClock
) -> tuple[str, str, TestClient]:
    case_id = late_case(app, clock)
    lead = signed_in(app, console_person(app, clock, role=Role.ADMIN))
    page = f"/console/cases/{case_id}"
    assert post_form(lead, page, f"{page}/recommend").status_code == 303  # type: ignore[attr-defined]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (stored,) = recommendations_for(uow, case_id)
    moved = post_form(lead, page, f"{page}/move", move="resolve", reason="customer has the parcel")
    assert moved.status_code == 303  # type: ignore[attr-defined]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        assert case.status == "resolved"
    return case_id, str(stored["id"]), lead


def test_a_resolved_case_page_offers_no_recommend_apply_or_propose(
    app: App, clock: FixedClock
) -> None:
    case_id, rec_id, lead = _resolved_case_with_a_recommendation(app, clock)
    html = lead.get(f"/console/cases/{case_id}").text
    assert f'action="/console/cases/{case_id}/recommend"' not in html
    assert f"/recommendations/{rec_id}/apply" not in html
    assert f'action="/console/cases/{case_id}/actions"' not in html
    assert 'id="propose-kind"' not in html
    assert "choice-offer" not in html
    assert "This case is resolved: it takes no new proposals or recommendations." in html
    # the way on is still there: the case can be reopened
    assert f'action="/console/cases/{case_id}/move"' in html


def test_work_posted_to_a_resolved_case_is_refused_with_the_reason_and_nothing_written(
    app: App, clock: FixedClock
) -> None:
    case_id, rec_id, lead = _resolved_case_with_a_recommendation(app, clock)
    page = f"/console/cases/{case_id}"
    attempts = {
        "propose an action": (
            f"{page}/actions",
            {"kind": "refund", "f.amount_minor": "10.00", "f.reason": "late"},
        ),
        "apply a recommendation": (f"{page}/recommendations/{rec_id}/apply", {}),
        "ask for a recommendation": (f"{page}/recommend", {}),
        "offer the customer a choice": (f"{page}/choice-offer", {}),
    }
    for doing, (action, fields) in attempts.items():
        token = csrf_of(lead.get(page).text)
        answer = lead.post(
            action,
            data={"csrf": token, **fields},
            headers={"referer": f"http://testserver{page}"},
        )
        assert answer.status_code == 303, doing  # type: ignore[attr-defined]
        # back on the case page (the browser's full Referer names it), the reason shown
        location = answer.headers["location"]  # type: ignore[attr-defined]
        assert location == page, doing
        shown = lead.get(location).text
        assert f"This case is resolved, so you cannot {doing} on it." in shown, doing
    assert list_for_case(app.sessions, tenant_id="acme", case_id=case_id) == []
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert len(recommendations_for(uow, case_id)) == 1


def test_a_reopened_case_offers_the_controls_again(app: App, clock: FixedClock) -> None:
    case_id, _, lead = _resolved_case_with_a_recommendation(app, clock)
    page = f"/console/cases/{case_id}"
    reopened = post_form(lead, page, f"{page}/move", move="reopen", reason="parcel came back")
    assert reopened.status_code == 303  # type: ignore[attr-defined]
    html = lead.get(page).text
    assert f'action="{page}/recommend"' in html
    assert 'id="propose-kind"' in html
