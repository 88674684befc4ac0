"""Shadow mode in a real headless Chromium: an administrator reads how a candidate with a
lower fraud threshold diverges from live (the extra cases, with their orders) and the
policy diff, proposes its promotion, and cannot approve it herself; a second
administrator approves it and the page shows it promoted, the candidate now the live
policy. A viewer is refused the page. Uses the browser and server of
``test_console_browser``.
"""

from __future__ import annotations

from typing import Any

from test_console_browser import browser, served, shot, unlabelled_controls

from builders.browser import serious_violations, sign_in
from builders.console import console_person
from builders.shadow import lower_fraud_threshold, scored_order, start_candidate, store_live_policy
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.uow import UnitOfWork
from orderops.workflow.candidate_policy import live_policy, parse_candidate, policy_diff

__all__ = ["browser", "served"]


def test_two_administrators_read_the_divergence_and_promote_the_candidate(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    app, clock, base = served
    store_live_policy(app, clock)
    text = lower_fraud_threshold(50)
    start_candidate(app, clock, text)
    extra = [scored_order(app, clock, 60) for _ in range(2)]
    scored_order(app, clock, 90)
    maker = console_person(app, clock, role=Role.ADMIN, name="Ada Maker")
    checker = console_person(app, clock, role=Role.ADMIN, name="Cy Checker")
    viewer = console_person(app, clock, role=Role.VIEWER, name="Vi Viewer")

    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in(page, base, maker)
    page.goto(f"{base}/console/shadow")
    row = page.locator("#divergence tbody tr", has_text="fraud review")
    cells = row.locator("td").all_inner_texts()
    assert cells[:4] == ["3", "1", "2", "0"]  # candidate opened, live, only candidate, only live
    examples = page.locator("ul.examples").inner_text()
    assert all(ref in examples for ref in extra)
    assert "fulfillment_policy.detectors.fraud_review" in page.locator("#policy-diff").inner_text()
    assert unlabelled_controls(page) == []
    assert serious_violations(page) == []
    shot(page, "shadow-01-divergence")

    page.get_by_role("button", name="Propose promotion to live").click()
    page.wait_for_url(f"{base}/console/shadow")
    assert "proposed" in page.locator(".flash").inner_text()
    assert page.locator("#awaiting").is_visible()
    assert page.get_by_role("button", name="Approve promotion").count() == 0

    second = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in(second, base, checker)
    second.goto(f"{base}/console/shadow")
    second.get_by_role("button", name="Approve promotion (the live policies change)").click()
    second.wait_for_url(f"{base}/console/shadow")
    assert "promoted: fulfillment_policy v2" in second.locator(".flash").inner_text()
    assert second.locator("#candidate-status").inner_text() == "promoted"
    assert second.locator("#no-diff").is_visible()
    shot(second, "shadow-02-promoted")
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert policy_diff(live_policy(uow), parse_candidate(text)) == []

    third = browser.new_context().new_page()
    sign_in(third, base, viewer)
    refused = third.goto(f"{base}/console/shadow")
    assert refused is not None
    assert refused.status == 403
