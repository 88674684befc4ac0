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
