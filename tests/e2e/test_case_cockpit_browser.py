"""The case page in a real headless Chromium: a reviewer proposes a partial refund through
the generated form (no JSON anywhere), is shown the refusal of an amount beyond what is
refundable with what they typed kept, and reads the action's status in words.

Skips locally without chromium or playwright; fails in CI (``builders/browser.py``).
"""

from __future__ import annotations

from typing import Any

import builders.browser as shared
from builders.browser import SHOTS, sign_in
from builders.cockpit import known_customer_case
from builders.console import console_person
from orderops.bootstrap import App
from orderops.decide.actions import list_for_case
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role

browser = shared.browser  # the shared fixtures
served = shared.served


def test_a_partial_refund_is_proposed_through_the_form_and_its_status_is_shown(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    app, clock, base = served
    case_id, _ = known_customer_case(app, clock)
    maker = console_person(app, clock, role=Role.APPROVER, name="Mo Maker")
    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in(page, base, maker)
    page.goto(f"{base}/console/cases/{case_id}")

    assert page.locator("textarea[name=params]").count() == 0
    picker = page.get_by_label("Action", exact=True)
    assert picker.input_value() == ""  # nothing proposed by one click
    with page.expect_navigation():  # the script submits the choice; its fields appear
        picker.select_option("refund")
    amount = page.get_by_label("Amount (USD)")
    assert amount.input_value() == "72.00"  # the ledger's room, prefilled
    assert "Ada Lovelace" in page.locator("#customer-h + dl").inner_text()
    assert page.get_by_role("heading", name="Order #1046").count() == 1

    # Beyond the room: the browser stops it before submit (the input's max) ...
    amount.fill("80.00")
    page.locator("#p-reason").fill("the parcel is a week late")
    page.get_by_role("button", name="Propose", exact=True).click()
    assert page.evaluate("document.querySelector('#p-amount_minor').validity.rangeOverflow")
    assert list_for_case(app.sessions, tenant_id="acme", case_id=case_id) == []

    # ... and the server refuses it too when the browser's check is bypassed, keeping what
    # the reviewer typed on the page it returns to.
    page.evaluate("document.querySelector('#p-amount_minor').removeAttribute('max')")
    with page.expect_navigation():
        page.get_by_role("button", name="Propose", exact=True).click()
    assert page.locator("#propose-error").inner_text().startswith("Not proposed: ")
    assert page.get_by_label("Amount (USD)").input_value() == "80.00"
    assert page.locator("#p-reason").input_value() == "the parcel is a week late"
    assert list_for_case(app.sessions, tenant_id="acme", case_id=case_id) == []
    amount = page.get_by_label("Amount (USD)")

    # ... and a partial refund goes through, in major units, no JSON typed.
    amount.fill("30.50")
    with page.expect_navigation():
        page.get_by_role("button", name="Propose", exact=True).click()
    assert "Proposed refund." in page.locator(".flash").inner_text()
    (action,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert action.params["amount_minor"] == 3050
    state = page.locator("p.action-state").first.inner_text()
    assert state == "waiting for an approver"
    assert "30.50 USD" in page.locator("dl.params").first.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "cockpit-01-proposed.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/console/cases/{case_id}?propose=reship")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(SHOTS / "cockpit-02-narrow.png"), full_page=True)
    wide = page.evaluate(
        """() => Array.from(document.querySelectorAll('main *'))
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
            .map(el => el.tagName + '.' + el.className + ' ' + (el.id || '')).slice(0, 12)"""
    )
    assert overflow <= 0, f"the case page overflows a 390 px screen by {overflow} px: {wide}"
