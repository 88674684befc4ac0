"""`orderops eval recommend` prints accuracy beside the aims; `recommend show` one case."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from builders.access import late_case
from orderops.bootstrap import App
from orderops.commands import recommend as recommend_commands
from orderops.commands.identity import register as register_identity
from orderops.domain.clock import FixedClock


def _cli(app: App | None = None) -> typer.Typer:
    cli = typer.Typer()
    register_identity(cli)  # `eval` is shared: both commands land in one group
    if app is None:
        recommend_commands.register(cli)
    else:
        recommend_commands.register(cli, make_app=lambda: app)
    return cli


def test_eval_recommend_prints_accuracy_and_the_red_team_beside_the_aims(tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = CliRunner().invoke(
        _cli(), ["eval", "recommend", "--seeds", "1", "--days", "1", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "payment_failed" in result.output
    assert "shipment_late" in result.output
    assert "aim 80%" in result.output
    assert "aim 95%" in result.output
    assert "red team blocked" in result.output
    assert "BELOW AIM" not in result.output
    written = json.loads(out.read_text())
    assert written["redteam_blocked_share"] == 1.0
    assert written["top1"] >= 0.8


def test_eval_recommend_names_the_embedders_it_knows() -> None:
    result = CliRunner().invoke(
        _cli(), ["eval", "recommend", "--seeds", "1", "--days", "1", "--embedder", "word2vec"]
    )

    assert result.exit_code == 2
    assert "'word2vec' is not one of tfidf, minilm" in result.output


def test_recommend_show_stores_and_prints_the_recommendation(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock)
    result = CliRunner().invoke(
        _cli(app), ["recommend", "show", "--case", case_id, "--tenant", "acme"]
    )
    assert result.exit_code == 0, result.output
    assert "very_late_reship" in result.output
    assert "customer en template: ready" in result.output
    missing = CliRunner().invoke(
        _cli(app), ["recommend", "show", "--case", "nope", "--tenant", "acme"]
    )
    assert missing.exit_code == 1
    assert "no case nope" in missing.output
