"""Debian's chromium driven by Playwright, for the console's browser tests.

``.ci/install-browser`` installs both; without them a browser test skips locally and fails
in CI (``CI=true``), like the PostgreSQL tests. Playwright's own browser download is never
used: the tests launch /usr/bin/chromium through ``executable_path``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

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
