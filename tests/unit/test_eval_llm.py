"""`orderops eval llm`: recorded answers replayed through the sandbox, judged by the checker."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from orderops.cli import cli
from orderops.evaluation.model_outputs import evaluate_recorded

RECORDED = Path(__file__).parents[1] / "fixtures" / "llm" / "recorded_summaries.jsonl"


def test_every_recorded_summary_is_judged_as_labelled_and_its_tokens_counted() -> None:
    figures = evaluate_recorded(RECORDED).to_json()
    assert figures["asked"] == figures["answered"] == 8
    assert figures["judged_as_labelled"] == {"right": 8, "labelled": 8}
    assert figures["passed_checker_share"] == 3 / 8  # the three faithful ones
    assert figures["shown_from_model"] == 3
    assert figures["tokens"]["prompt"] == 1677
    assert figures["tokens"]["completion"] == 161


def test_the_command_prints_the_share_latency_and_tokens_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "llm.json"
    result = CliRunner().invoke(
        cli, ["eval", "llm", "--recorded", str(RECORDED), "--cases", "3", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "passed the claim checker: 66.7%" in result.output
    assert "latency: p50" in result.output
    assert json.loads(out.read_text())["asked"] == 3


def test_the_command_wants_exactly_one_source_or_a_readable_file(tmp_path: Path) -> None:
    neither = CliRunner().invoke(cli, ["eval", "llm"])
    missing = CliRunner().invoke(cli, ["eval", "llm", "--recorded", str(tmp_path / "no.jsonl")])
    assert neither.exit_code == 2
    assert "exactly one of --recorded or --base-url" in neither.output
    assert missing.exit_code == 2
    assert "cannot evaluate" in missing.output
