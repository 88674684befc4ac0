"""Debian's chromium driven by Playwright, for the console's browser tests.

``.ci/install-browser`` installs both; without them a browser test skips locally and fails
in CI (``CI=true``), like the PostgreSQL tests. Playwright's own browser download is never
used: the tests launch /usr/bin/chromium through ``executable_path``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from builders.console import PASSWORD, ConsolePerson
from builders.live_server import served as serving
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.tenancy.tenants import ensure_tenant

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def browser_problem() -> str | None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"{CHROMIUM} is missing: run .ci/install-browser"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed in this environment: run .ci/install-browser"
    return None


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """A headless chromium, closed afterwards; skipped locally (failed in CI) without one."""
    problem = browser_problem()
    if problem:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it stands, one line each
    (rule, impact, the first elements it names): the accessibility bar the console holds.

    axe-core comes bundled with ``axe-playwright-python`` and is injected through the
    DevTools protocol, so nothing is fetched and the page's content security policy is not
    loosened for it. Minor and moderate findings are left to review, not to the build."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found: list[str] = []
    for violation in results.response["violations"]:
        if violation.get("impact") not in BLOCKING_IMPACTS:
            continue
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:3]]
        found.append(f"{violation['id']} ({violation['impact']}): {'; '.join(targets)}")
    return found


def horizontal_overflow(page: Any) -> tuple[int, list[str]]:
    """How far the document is wider than the window, and the widest culprits: a table
    that scrolls inside its own container does not count, since it widens nothing."""
    overflow = int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
    culprits: list[str] = page.evaluate(
        """() => Array.from(document.querySelectorAll('body *'))
            .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
            .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                 + (el.className && typeof el.className === 'string'
                    ? '.' + el.className.trim().split(/\\s+/).join('.') : ''))
            .slice(0, 8)"""
    )
    return overflow, culprits


# -- the fixtures the console's browser tests share -----------------------------------------

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
"""Where browser tests keep their screenshots (``/artifacts/`` is git-ignored; CI keeps it)."""
BROWSER_T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium per test module (each test opens its own contexts)."""
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[App, FixedClock, str]]:
    """A demo-mode desk on SQLite with tenant ``acme``, served by uvicorn on a free port:
    (the app, its clock, the base URL)."""
    clock = FixedClock(BROWSER_T0)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'console.db'}", data_dir=tmp_path, demo_mode=True
    )
    app = bootstrap(settings, clock=clock)
    ensure_tenant(app.sessions, tenant_id="acme", name="Acme", clock=clock)
    try:
        with serving(app) as base:
            yield app, clock, base
    finally:
        app.close()


def sign_in(page: Any, base: str, person: ConsolePerson) -> None:
    """Sign in through the form with the mouse-free shortest path (fill, Enter)."""
    page.goto(f"{base}/console/login")
    page.locator("#tenant").fill(person.tenant)
    page.locator("#email").fill(person.email)
    page.locator("#password").fill(PASSWORD)
    with page.expect_navigation():
        page.locator("#password").press("Enter")


def sign_in_with_keyboard(page: Any, base: str, person: ConsolePerson) -> None:
    """Sign in with the keyboard alone: Tab from the top of the page to each field."""
    page.goto(f"{base}/console/login")
    for _ in range(6):  # skip link, brand, then the first field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "tenant":
            break
    assert page.evaluate("document.activeElement.id") == "tenant"
    page.keyboard.type(person.tenant)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type(person.email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/console/queues")


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def unlabelled_controls(page: Any) -> list[str]:
    """Every visible input, select and textarea that has neither a label nor aria-label."""
    found: list[str] = page.evaluate(
        """() => Array.from(document.querySelectorAll(
              'input:not([type=hidden]), select, textarea'))
            .filter(el => (el.labels === null || el.labels.length === 0)
                          && !el.getAttribute('aria-label'))
            .map(el => el.outerHTML.slice(0, 80))"""
    )
    return found


def chart_label_problems(page: Any, *, smallest_px: float = 9.0) -> list[str]:
    """Labels of the charts on screen that overlap another label of the same chart, or whose
    font is drawn smaller than ``smallest_px`` (legible only when zoomed): one line each.
    Charts hidden at this width (``display: none``) are not on screen and not judged."""
    found: list[str] = page.evaluate(
        """(smallest) => {
          const out = [];
          document.querySelectorAll('svg.chart').forEach((svg, n) => {
            if (svg.getClientRects().length === 0) return;  // not displayed at this width
            const name = svg.getAttribute('aria-label') || ('chart ' + n);
            // drawn size = the font's size times how much the drawing is scaled
            const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
            const boxes = Array.from(svg.querySelectorAll('text')).map(t => {
              const r = t.getBoundingClientRect();
              const px = parseFloat(getComputedStyle(t).fontSize) * scale;
              return {text: t.textContent, l: r.left, r: r.right, t: r.top, b: r.bottom, px};
            }).filter(b => b.r > b.l && b.b > b.t);
            boxes.forEach(b => {
              if (b.px < smallest) {
                out.push(`${name}: "${b.text}" is drawn at ${b.px.toFixed(1)} px`);
              }
            });
            for (let i = 0; i < boxes.length; i++) {
              for (let j = i + 1; j < boxes.length; j++) {
                const a = boxes[i], c = boxes[j];
                const w = Math.min(a.r, c.r) - Math.max(a.l, c.l);
                const h = Math.min(a.b, c.b) - Math.max(a.t, c.t);
                if (w > 0.5 && h > 0.5) out.push(`${name}: "${a.text}" overlaps "${c.text}"`);
              }
            }
          });
          return out;
        }""",
        smallest_px,
    )
    return found
