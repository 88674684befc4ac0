"""The reviewer console in a real headless Chromium (Debian's package, driven by Playwright).

Journeys: sign in with the keyboard, open a queue and a case, claim it, write and edit a
customer message, propose a refund; a second person approves it and watches the writeback
complete without reloading; the proposer sees no approve button and is refused when
posting anyway. Screenshots land in artifacts/screenshots/.

Locally the test skips (with the reason) when chromium or playwright is missing; in CI
(CI=true) it fails instead: ``.ci/install-browser`` installs both.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import builders.browser as shared
from builders.access import late_case
from builders.browser import shot, sign_in_with_keyboard, unlabelled_controls
from builders.console import console_person
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.uow import UnitOfWork
from orderops.writeback.claims import claim_due
from orderops.writeback.conflicts import send_back_for_review
from orderops.writeback.outcomes import Outcome, OutcomeKind, decide
from orderops.writeback.policy import DeliveryPolicy
from orderops.writeback.results import record_outcome
from orderops.writeback.sagas import on_message_settled

browser = shared.browser  # the shared fixtures (the other browser tests import them from here)
served = shared.served
__all__ = ["browser", "served", "shot", "sign_in_with_keyboard", "unlabelled_controls"]


def deliver_everything(app: App) -> int:
    """Stand in for the writeback worker through its own services: lease what is due,
    record each as delivered (the vendors themselves are the writeback suite's business)."""
    policy, now = DeliveryPolicy(), app.clock.now()
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        claimed = claim_due(
            uow,
            worker_id="console-e2e",
            now=now,
            lease=timedelta(minutes=5),
            limit=50,
            systems=["stripe", "shopify", "easypost", "wms", "crm", "zendesk", "payments", "oms"],
            summarise=lambda _row: {},
        )
        uow.commit()
    for item in claimed:
        outcome = Outcome(kind=OutcomeKind.DELIVERED, result={"id": f"x_{item.idempotency_key}"})
        decision = decide(outcome, attempts=item.tries, policy=policy, now=now, rand=0.5)
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            record_outcome(
                uow,
                item,
                outcome,
                decision,
                worker_id="console-e2e",
                now=now,
                on_conflict=send_back_for_review,
                on_settled=on_message_settled,
            )
            uow.commit()
    return len(claimed)


def test_review_a_case_from_queue_to_completed_writeback(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    app, clock, base = served
    case_id = late_case(app, clock)
    late_case(app, clock, total_minor=9000)
    agent = console_person(app, clock, role=Role.AGENT, name="Ann Agent")
    approver = console_person(app, clock, role=Role.APPROVER, name="Bea Approver")

    ann = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in_with_keyboard(ann, base, agent)
    shot(ann, "01-queues")
    assert unlabelled_controls(ann) == []

    ann.get_by_role("link", name="ops", exact=True).click()
    rows = ann.locator("table.cases tbody tr")
    assert rows.count() == 4  # each order is late and stuck (paid, never handed to a carrier)
    ann.get_by_label("Sort by").select_option("sla")
    ann.get_by_label("SLA").select_option("on_track")
    ann.get_by_role("button", name="Apply").click()
    assert ann.locator("table.cases tbody tr").count() == 4
    shot(ann, "02-queue")
    assert unlabelled_controls(ann) == []

    ann.locator(f'a[href="/console/cases/{case_id}"]').click()
    ann.wait_for_url(f"{base}/console/cases/{case_id}")
    ann.get_by_role("button", name="Claim", exact=True).click()
    assert "Claimed." in ann.locator(".flash").inner_text()
    assert "Ann Agent" in ann.locator("dl.meta").inner_text()

    ann.get_by_text("Draft a new message").click()
    ann.get_by_label("Subject", exact=True).last.fill("Your parcel")
    ann.locator("#new-body").fill("Sorry, your parcel is late.")
    ann.get_by_role("button", name="Create draft").click()
    body = ann.get_by_label("Message", exact=True).first
    assert body.input_value() == "Sorry, your parcel is late."
    body.fill("Sorry, your parcel is late. We are refunding you in full.")
    body.press("Tab")
    with ann.expect_navigation():  # wait for the form's answer, not the page already shown
        ann.keyboard.press("Enter")  # the next control after the text is "Save draft"
    assert "Draft saved." in ann.locator(".flash").inner_text()
    assert "refunding you in full" in ann.get_by_label("Message", exact=True).first.input_value()

    with ann.expect_navigation():  # choosing the kind shows its generated fields
        ann.get_by_label("Action", exact=True).select_option("refund")
    ann.locator("#p-reason").fill("the parcel is a week late")
    ann.get_by_role("button", name="Propose", exact=True).click()
    assert "Proposed refund." in ann.locator(".flash").inner_text()
    assert ann.get_by_role("button", name="Approve", exact=True).count() == 0
    assert "does not approve actions" in ann.content()
    assert unlabelled_controls(ann) == []
    shot(ann, "03-case-proposed")

    # The agent's direct POST is refused by the server, whatever the page shows.
    action_id = _pending_action(app, case_id)
    token = ann.locator('input[name="csrf"]').first.input_value()
    refused = ann.request.post(
        f"{base}/console/actions/{action_id}/approve",
        form={"csrf": token},
        max_redirects=0,
    )
    assert refused.status == 403
    assert "may not actions:approve" in refused.text()

    bea = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in_with_keyboard(bea, base, approver)
    bea.goto(f"{base}/console/cases/{case_id}")
    bea.get_by_label("Approval note").fill("late by a week: refund is fair")
    bea.get_by_role("button", name="Approve", exact=True).click()
    assert "Approved refund." in bea.locator(".flash").inner_text()
    steps = bea.locator("ol.steps li")
    assert steps.count() >= 1
    assert "pending" in steps.first.inner_text()

    assert deliver_everything(app) >= 1
    # No reload: the page polls its fingerprint and swaps the changed region in.
    bea.locator("ol.steps li.w-delivered").first.wait_for(timeout=10_000)
    assert "delivered" in bea.locator("ol.steps li").first.inner_text()
    shot(bea, "04-case-delivered")

    bea.goto(f"{base}/console/dashboards?from=2026-11-01&to=2026-11-20")
    assert bea.locator("svg.chart").count() >= 8
    shot(bea, "05-dashboards")


def _pending_action(app: App, case_id: str) -> str:
    from orderops.decide.actions import list_for_case

    (action,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    return action.id


def test_a_viewer_sees_no_decision_controls_and_the_server_refuses_them(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    app, clock, base = served
    case_id = late_case(app, clock)
    viewer = console_person(app, clock, role=Role.VIEWER, name="Val Viewer")
    page = browser.new_context().new_page()
    sign_in_with_keyboard(page, base, viewer)
    page.goto(f"{base}/console/cases/{case_id}")
    assert page.get_by_role("button", name="Claim", exact=True).count() == 0
    assert page.get_by_text("Propose an action").count() == 0
    token = page.locator('input[name="csrf"]').first.input_value()
    refused = page.request.post(
        f"{base}/console/cases/{case_id}/actions",
        form={"csrf": token, "kind": "refund", "params": '{"reason": "sneaky refund"}'},
        max_redirects=0,
    )
    assert refused.status == 403
    shot(page, "06-viewer-case")


def test_the_console_and_the_docs_run_under_the_content_security_policy(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    """Nothing the pages need is refused by the policy, and nothing comes from another host."""
    app, clock, base = served
    case_id = late_case(app, clock)
    admin = console_person(app, clock, role=Role.ADMIN, name="Cy Policy")
    page = browser.new_context().new_page()
    refused: list[str] = []
    elsewhere: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on(
        "request",
        lambda request: (
            elsewhere.append(request.url)
            if not request.url.startswith((base, "data:", "blob:"))
            else None
        ),
    )

    sign_in_with_keyboard(page, base, admin)
    for path in ("/console/queues", f"/console/cases/{case_id}", "/console/dashboards"):
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
    page.goto(f"{base}/docs")
    page.wait_for_selector(".opblock-summary", timeout=20_000)
    operations = page.locator(".opblock-summary").count()
    page.goto(f"{base}/redoc")
    page.wait_for_selector("h1", timeout=20_000)
    redoc_title = page.locator("h1").first.inner_text()

    assert operations > 50, "Swagger UI rendered the operations"
    assert redoc_title.startswith("OrderOps")
    # ReDoc's "powered by" badge points at its vendor's CDN: the policy blocks that image
    # (and only that), which is the policy working; nothing else may be refused, and
    # nothing from another host may be asked for that the policy did not block.
    assert [text for text in refused if "cdn.redoc.ly" not in text] == []
    assert [url for url in elsewhere if not any(url in text for text in refused)] == []
