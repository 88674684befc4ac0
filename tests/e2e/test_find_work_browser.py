"""Finding and batching work in a real headless Chromium: "/" jumps to the header's search,
an order number finds its case; on a queue, j/x tick cases from the keyboard and one
click claims them all; "?" shows the shortcuts. Uses the browser and server of
``test_console_browser``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from test_console_browser import browser, served, shot, sign_in_with_keyboard, unlabelled_controls

from builders.access import late_case
from builders.console import console_person
from builders.find_work import findable_order
from builders.scopes import name_brands
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import ScopeValues
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork

__all__ = ["browser", "served"]


def _assignees(app: App, case_ids: list[str]) -> dict[str, str | None]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return {
            c.id: c.assignee for c in uow.session.scalars(select(Case).where(Case.id.in_(case_ids)))
        }


def test_search_from_the_header_and_a_bulk_claim_from_the_keyboard(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    app, clock, base = served
    name_brands(app, clock)
    jane = findable_order(
        app,
        clock,
        key="jane1",
        number="1046",
        name="Jane Doe",
        phone="+14155550123",
        place=ScopeValues(region="DE", brand="acme"),
    )
    late = [late_case(app, clock) for _ in range(2)]
    agent = console_person(app, clock, role=Role.AGENT, name="Kim Keys")
    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in_with_keyboard(page, base, agent)

    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "global-q"
    page.keyboard.type("#1046")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.startswith(f"{base}/console/search?q=")
    cases = page.locator("#search-cases a")
    assert {cases.nth(i).get_attribute("href") for i in range(cases.count())} == {
        f"/console/cases/{c}" for c in jane.case_ids
    }
    assert unlabelled_controls(page) == []
    shot(page, "find-01-search")

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        queue = uow.session.scalar(select(Case.queue).where(Case.id == late[0]))
    page.goto(f"{base}/console/queues/{queue}?sort=oldest")
    ticks = page.locator("input[type=checkbox][name=case]")
    wanted = [ticks.nth(i).get_attribute("value") for i in range(2)]
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    assert [ticks.nth(i).is_checked() for i in range(2)] == [True, True]
    page.keyboard.press("?")
    assert page.locator("#shortcut-help").is_visible()
    shot(page, "find-02-queue-ticked-help")
    page.keyboard.press("Escape")
    assert not page.locator("#shortcut-help").is_visible()
    assert unlabelled_controls(page) == []
    page.get_by_role("button", name="Claim ticked").click()
    page.wait_for_url(f"{base}/console/bulk")
    assert "2 done, 0 refused" in page.locator("h1").inner_text()
    shot(page, "find-03-bulk-claimed")

    assert None not in wanted
    assert _assignees(app, [str(w) for w in wanted]) == dict.fromkeys(wanted, "Kim Keys")
    page.get_by_role("link", name="My cases").click()
    mine = page.locator("a[data-open]")
    assert {mine.nth(i).get_attribute("href") for i in range(mine.count())} == {
        f"/console/cases/{w}" for w in wanted
    }
