"""Asking the CLI for help loads none of the heavy libraries.

`orderops --help` (and every other command's help) must answer at once, so the command
modules import the API app, the web server, the models' numeric stack and the database
layer only inside the commands that use them. Help builds the whole click command tree,
so it also proves that every option type still resolves without those imports.

A fresh interpreter per case: this test process has long since imported all of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = (
    "fastapi",
    "uvicorn",
    "sklearn",
    "numpy",
    "scipy",
    "pandas",
    "jinja2",
    "httpx",
    "sqlalchemy",
    "orderops.api.app",
)
"""Each costs from tens of milliseconds to seconds at import; none is needed to print help."""

MARKER = "@@modules@@"

PROBE = f"""
import json, sys
from orderops import cli
sys.argv = ["orderops", *sys.argv[1:]]
try:
    cli.main()
except SystemExit as exc:
    code = exc.code
else:
    code = None
heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
print({MARKER!r} + json.dumps({{"exit": code, "heavy": heavy}}))
"""


def run_cli(*argv: str) -> tuple[str, dict[str, object]]:
    """The help text and what the probe saw: the exit code and the heavy modules loaded."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    text, _, report = done.stdout.rpartition(MARKER)
    assert report, f"the probe did not finish:\n{done.stdout}\n{done.stderr}"
    return text, json.loads(report)


@pytest.mark.parametrize(
    ("argv", "shows"),
    [
        (["--help"], "serve"),
        (["deadletters", "--help"], "replay"),
        (["sources", "connect", "--help"], "shopify"),
        (["import", "--help"], "csv-orders"),
        (["outbox", "list", "--help"], "in_flight"),
        (["users", "add", "--help"], "approver"),
        (["webhooks", "add", "--help"], "case.opened"),
    ],
)
def test_help_answers_without_loading_heavy_libraries(argv: list[str], shows: str) -> None:
    text, seen = run_cli(*argv)
    assert seen["exit"] == 0
    assert shows in text
    assert seen["heavy"] == []
