"""`orderops eval identity` reaches the aims on a small seed, and the `identity` commands
resolve, merge, split and show through the same services."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from tests.integration.test_identity_service import PEOPLE, customer_event
from typer.testing import CliRunner

import orderops.storage.tables.identity  # noqa: F401 - registers the identity tables
from orderops.bootstrap import App
from orderops.commands.identity import register
from orderops.domain.clock import FixedClock
from orderops.evaluation.identity import AIM_PRECISION, AIM_RECALL
from orderops.resolve.identity import service
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items

runner = CliRunner()


def _cli(app: App | None = None) -> typer.Typer:
    cli = typer.Typer()
    if app is None:
        register(cli)
    else:
        register(cli, make_app=lambda: app)
    return cli


def test_eval_identity_on_a_small_seed_reaches_the_aims(tmp_path: Path) -> None:
    out = tmp_path / "identity.json"
    result = runner.invoke(
        _cli(), ["eval", "identity", "--seed", "3", "--seeds", "1", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    measured = json.loads(out.read_text("utf-8"))
    total = measured["total"]
    assert total["actual"] >= 20, "the run must contain duplicates to find"
    assert total["precision"] >= AIM_PRECISION
    assert total["recall"] >= AIM_RECALL
    assert measured["meets_aims"] is True
    assert "meets the aims" in result.output


def test_identity_commands_merge_split_and_show(app: App, clock: FixedClock) -> None:
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[customer_event(*person, clock=clock) for person in PEOPLE],
        channel="test",
        clock=clock,
    )
    cli = _cli(app)
    resolved = runner.invoke(cli, ["identity", "resolve", "--tenant", "acme"])
    assert resolved.exit_code == 0, resolved.output
    assert "5 customers -> 4 people" in resolved.output

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        goldens = sorted(set(service.golden_ids(uow).values()))
    merged = runner.invoke(
        cli, ["identity", "merge", "--tenant", "acme", goldens[0], goldens[1], "--reason", "test"]
    )
    assert merged.exit_code == 0, merged.output
    match = re.search(r"revision (\d+)", merged.output)
    assert match is not None
    shown = runner.invoke(cli, ["identity", "show", "--tenant", "acme", goldens[0]])
    assert shown.exit_code == 0, shown.output
    assert "manual_merge" in shown.output
    split = runner.invoke(
        cli, ["identity", "split", "--tenant", "acme", match.group(1), "--reason", "undo"]
    )
    assert split.exit_code == 0, split.output
    again = runner.invoke(
        cli, ["identity", "split", "--tenant", "acme", match.group(1), "--reason", "undo"]
    )
    assert again.exit_code == 1
    assert "already split" in again.output
    missing = runner.invoke(cli, ["identity", "show", "--tenant", "acme", "no-such-golden"])
    assert missing.exit_code == 1
