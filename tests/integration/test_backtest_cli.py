"""`orderops backtest`: a bad candidate file, a bad window or an unknown tenant is one
``error:`` line and exit code 2 before anything is replayed or stored; a good one prints
the report (``--json``: one document) and stores it for the tenant that ran it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from builders.database_roles import owner_sessions
from orderops.bootstrap import App
from orderops.commands import backtest as backtest_commands
from orderops.commands.errors import CleanErrors
from orderops.domain.clock import FixedClock
from orderops.domain.errors import NotFound
from orderops.storage.tables import BacktestRun
from orderops.storage.uow import UnitOfWork
from orderops.workflow.backtest import get_run
from orderops.workflow.candidate_policy import MAX_CANDIDATE_BYTES

WINDOW = ("--from", "2026-11-19", "--to", "2026-11-20T12:00:00+00:00")


def _run(app: App, *args: str) -> Result:
    cli = typer.Typer(cls=CleanErrors)
    backtest_commands.register(cli, make_app=lambda: app)

    @cli.command("noop", hidden=True)
    def _noop() -> None:  # a second command keeps `backtest` a subcommand
        """Nothing."""

    return CliRunner().invoke(cli, list(args))


def _stored(app: App) -> int:
    with owner_sessions(app)() as session:
        return int(session.scalar(select(func.count()).select_from(BacktestRun)) or 0)


BAD = {
    "malformed": ("fulfillment_policy: [1, 2\n", "not valid YAML"),
    "unknown detector": (
        "fulfillment_policy:\n  timezone: UTC\n  promise_windows: {s: {business_days: 2,"
        " cutoff: '14:00'}}\n  substitutions: {max_price_increase_pct: 5}\n"
        "  refund_limits: {currency: USD, auto_approve_under_minor: 0,"
        " finance_approval_over_minor: 0}\n  detectors: {teleport_delay: {enabled: false}}\n",
        "fulfillment_policy.detectors.teleport_delay",
    ),
    "wrong type": ("routing_rules: {name: x}\n", "routing_rules: must be a list"),
    "wrong threshold type": (
        "approval_policy: {expiry_hours: soon}\n",
        "approval_policy: approval policy is invalid",
    ),
    "unknown section": ("detector_thresholds: {}\n", "detector_thresholds: is not a known"),
    "alias bomb": ("a: &x [1, 2]\nb: [*x, *x]\n", "anchors and aliases are not allowed"),
    "not a mapping": ("- 1\n- 2\n", "(root): must be a mapping"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_candidate_is_one_error_line_and_exit_2(app: App, tmp_path: Path, name: str) -> None:
    text, expected = BAD[name]
    path = tmp_path / "candidate.yaml"
    path.write_text(text)

    result = _run(app, "backtest", "--tenant", "acme", *WINDOW, "--candidate", str(path))

    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: candidate "), result.output
    assert expected in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert _stored(app) == 0


def test_an_oversized_or_unreadable_candidate_is_refused(app: App, tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_CANDIDATE_BYTES + "\n")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00policy")

    too_big = _run(app, "backtest", "--tenant", "acme", *WINDOW, "--candidate", str(big))
    unreadable = _run(app, "backtest", "--tenant", "acme", *WINDOW, "--candidate", str(binary))
    missing = _run(
        app, "backtest", "--tenant", "acme", *WINDOW, "--candidate", str(tmp_path / "no.yaml")
    )

    assert (too_big.exit_code, unreadable.exit_code, missing.exit_code) == (2, 2, 2)
    assert "larger than" in too_big.output
    assert "cannot be read" in unreadable.output
    assert "cannot be read" in missing.output
    assert _stored(app) == 0


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-11-20", "2026-11-19", "ends before it starts"),
        ("2026-01-01", "2026-11-19", "longer than"),
        ("yesterday", "2026-11-19", "--from: not an ISO date"),
    ],
)
def test_a_window_that_is_not_one_is_refused(
    app: App, tmp_path: Path, start: str, end: str, expected: str
) -> None:
    path = tmp_path / "candidate.yaml"
    path.write_text("")

    result = _run(
        app, "backtest", "--tenant", "acme", "--from", start, "--to", end, "--candidate", str(path)
    )

    assert result.exit_code == 2, result.output
    assert expected in result.output


def test_an_unknown_tenant_is_refused(app: App, tmp_path: Path) -> None:
    path = tmp_path / "candidate.yaml"
    path.write_text("")

    result = _run(app, "backtest", "--tenant", "nosuch", *WINDOW, "--candidate", str(path))

    assert result.exit_code == 2, result.output
    assert "no tenant 'nosuch'" in result.output
    assert _stored(app) == 0


def test_a_run_prints_its_report_and_stores_it_for_its_tenant_only(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    path = tmp_path / "candidate.yaml"
    path.write_text("routing_rules:\n  - {name: everything to ops, queue: ops, priority: P2}\n")

    as_json = _run(app, "backtest", "--tenant", "acme", *WINDOW, "--candidate", str(path), "--json")
    as_table = _run(app, "backtest", "--tenant", "acme", *WINDOW, "--candidate", str(path))

    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.output)
    assert document["report"]["events"] == 0
    assert document["report"]["identical"] is True
    assert "routing_rules.everything to ops" in {c["path"] for c in document["policy_diff"]}
    assert as_table.exit_code == 0, as_table.output
    assert "Policy diff" in as_table.output
    assert "Changed cases" in as_table.output
    assert _stored(app) == 2
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert get_run(uow, document["id"]).candidate_text == path.read_text()
    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow, pytest.raises(NotFound):
        get_run(uow, document["id"])
