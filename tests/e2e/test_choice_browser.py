"""The customer's choice link in a real Chromium: a reviewer offers from the case page, the
customer (another browser, no session, JavaScript off) opens the link, sees the order and
the options, picks one, and the case shows the proposed action; the used link then says so.
The page loads under its own strict CSP without a single violation."""

from __future__ import annotations

from typing import Any

from test_console_browser import (  # the shared browser and server fixtures
    browser,
    served,
    shot,
    sign_in_with_keyboard,
)

from builders.choices import choice_case, token_of
from builders.console import console_person
from orderops.bootstrap import App
from orderops.decide.actions import list_for_case
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role

__all__ = ["browser", "served"]


def test_an_offer_made_in_the_console_is_chosen_by_the_customer_without_javascript(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    app, clock, base = served
    case_id = choice_case(app, clock)
    agent = console_person(app, clock, role=Role.AGENT, name="Cho Chooser")
    desk = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in_with_keyboard(desk, base, agent)

    desk.goto(f"{base}/console/cases/{case_id}")
    desk.get_by_role("button", name="Offer the customer a choice").click()
    link = desk.get_by_label("The customer's link").input_value()
    shot(desk, "choice-01-offered")

    customer = browser.new_context(java_script_enabled=False).new_page()
    violations: list[str] = []
    customer.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    customer.goto(f"{base}/choice/{token_of(link)}")
    text = customer.locator("main").inner_text()
    assert "arrive later than we promised" in text
    assert "1 \u00d7 SKU-1" in text
    shot(customer, "choice-02-page")
    customer.get_by_role("button", name="Wait for my order").click()
    assert "We have your choice" in customer.locator("main").inner_text()
    shot(customer, "choice-03-chosen")

    customer.goto(f"{base}/choice/{token_of(link)}")
    assert "already made" in customer.locator("main").inner_text()
    assert violations == []
    (action,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert (action.kind, action.proposed_by.startswith("customer-link:")) == ("accept_delay", True)
    desk.goto(f"{base}/console/cases/{case_id}")
    assert "The customer chose wait" in desk.content()
