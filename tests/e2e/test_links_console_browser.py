""" "Links to check" in a real headless Chromium: an agent sees the third ticket with both
candidate orders and their evidence, links it to the right one (the customer_chasing
case it opens says why), then unlinks it from the order's links page, where the revoked
link stays, greyed. Uses the browser and the server of ``test_console_browser``.
"""

from __future__ import annotations

from typing import Any

from test_console_browser import (  # the shared browser and server fixtures
    browser,
    served,
    shot,
    sign_in_with_keyboard,
    unlabelled_controls,
)

from builders.console import console_person
from builders.links import suggested_ticket, ticket_order
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.uow import UnitOfWork

__all__ = ["browser", "served"]


def _chasing_case(app: App, order_ref: str) -> tuple[str, str] | None:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        order = uow.commerce.order_by_ref(order_ref)
        assert order is not None
        case = uow.cases.by_type_for_order(order.id).get("customer_chasing")
        return (case.id, case.status) if case is not None else None


def test_an_agent_links_the_third_ticket_and_unlinks_it(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    app, clock, base = served
    world = suggested_ticket(app, clock)
    agent = console_person(app, clock, role=Role.AGENT, name="Lin Linker")
    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in_with_keyboard(page, base, agent)

    page.get_by_role("link", name="Links to check").click()
    page.wait_for_url(f"{base}/console/links")
    card = page.locator("section.suggestion")
    assert card.count() == 1
    assert world.record_ref in card.inner_text()
    assert "requester wrote to A" in card.inner_text()
    assert "requester wrote to B" in card.inner_text()
    assert unlabelled_controls(page) == []
    shot(page, "links-01-to-check")

    page.get_by_label("Why (optional)").first.fill("order number in the phone note")
    page.get_by_role("button", name=f"Link {world.record_ref} to order {world.number_a}").click()
    page.wait_for_url(f"{base}/console/links")
    assert f"Linked to order {world.order_a}." in page.locator(".flash").inner_text()
    assert page.locator("section.suggestion").count() == 0
    assert ticket_order(app, world) == world.order_a
    opened = _chasing_case(app, world.order_a)
    assert opened is not None
    case_id, status = opened
    assert status == "new"
    page.goto(f"{base}/console/cases/{case_id}")
    assert "order number in the phone note" in page.content()

    page.goto(f"{base}/console/orders/{world.order_a}/links")
    page.get_by_label("Why unlink").fill("a colleague's mistake")
    page.get_by_role("button", name=f"Unlink {world.record_ref}").click()
    page.wait_for_url(f"{base}/console/orders/{world.order_a}/links")
    revoked = page.locator("tr.revoked")
    assert revoked.count() == 1
    assert "a colleague's mistake" in revoked.inner_text()
    assert "muted" in (revoked.get_attribute("class") or "")
    assert ticket_order(app, world) is None
    assert _chasing_case(app, world.order_a) == (case_id, "resolved")
    shot(page, "links-02-order-links")
