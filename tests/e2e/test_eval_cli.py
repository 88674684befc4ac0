"""`orderops eval detectors` end to end on a tiny store: a table on screen, JSON on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from orderops.commands import evaluate


def test_eval_detectors_scores_every_type_and_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDEROPS_DATA_DIR", str(tmp_path / "data"))
    cli = typer.Typer()
    evaluate.register(cli)
    out = tmp_path / "eval.json"

    result = CliRunner().invoke(
        cli,
        ["eval", "detectors", "--seeds", "1", "--rates", "high", "--orders-per-day", "12",
         "--step-hours", "3", "--no-models", "--json", str(out)],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "detectors on simulated ground truth" in result.output
    report = json.loads(out.read_text("utf-8"))
    rows = {row["type"]: row for row in report["simulation"]["per_rate"]["high"]}
    assert "payment_failed" in rows
    assert all(0.0 <= row["precision"] <= 1.0 for row in rows.values())
    assert list((tmp_path / "data" / "models").glob("*/delay-*.skops")), "model trained once"


def test_unknown_rate_presets_are_refused(tmp_path: Path) -> None:
    cli = typer.Typer()
    evaluate.register(cli)
    result = CliRunner().invoke(cli, ["eval", "detectors", "--rates", "medium", "--no-models"])
    assert result.exit_code != 0
    assert "medium" in result.output
