"""A backtest report in a real headless Chromium: an administrator opens the list, follows
the run to its report, and reads the changed case (with its order) and the policy diff;
the page has no unlabelled control and no serious accessibility violation. A viewer is
refused. Uses the browser and server of ``test_console_browser``.
"""

from __future__ import annotations

from typing import Any

from test_console_browser import browser, served, shot, unlabelled_controls

from builders.backtests import stored_run
from builders.browser import serious_violations, sign_in
from builders.console import console_person
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role

__all__ = ["browser", "served"]


def test_an_administrator_reads_a_backtest_report_and_its_policy_diff(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    app, clock, base = served
    run_id = stored_run(app, clock, order_ref="o-backtest-7")
    admin = console_person(app, clock, role=Role.ADMIN, name="Ada Admin")
    viewer = console_person(app, clock, role=Role.VIEWER, name="Vi Viewer")

    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in(page, base, admin)
    page.goto(f"{base}/console/backtests")
    page.get_by_role("link", name=run_id).click()
    page.wait_for_url(f"{base}/console/backtests/{run_id}")

    assert page.locator("#changed-count").inner_text() == "1"
    changed = page.locator("#changed tbody").inner_text()
    assert "o-backtest-7" in changed
    assert "fraud" in changed.lower()
    assert "routing_rules.everything to ops" in page.locator("#policy-diff").inner_text()
    cases = page.locator("#cases tbody tr", has_text="fraud review").locator("td")
    assert cases.all_inner_texts()[:2] == ["0", "1"]  # opened live, opened candidate
    assert unlabelled_controls(page) == []
    assert serious_violations(page) == []
    shot(page, "backtest-01-report")

    other = browser.new_context().new_page()
    sign_in(other, base, viewer)
    refused = other.goto(f"{base}/console/backtests/{run_id}")
    assert refused is not None
    assert refused.status == 403
