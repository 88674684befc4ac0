"""The README's settings table is `orderops settings --markdown`, generated from the
settings classes: a setting added, renamed or re-described without regenerating it
(`orderops settings --write README.md`) fails here."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from orderops.cli import cli
from orderops.commands.settings_table import markdown_table, setting_rows, table_in

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_table_is_the_generated_one() -> None:
    assert table_in(README.read_text("utf-8")) == markdown_table(setting_rows()), (
        "README.md's settings table is out of date: run `orderops settings --write README.md`"
    )


def test_every_settings_class_is_in_the_table() -> None:
    variables = {row.variable for row in setting_rows()}

    for expected in (
        "ORDEROPS_SECRET_KEY",
        "ORDEROPS_WRITEBACK_MODE",
        "ORDEROPS_LLM_MODEL",
        "ORDEROPS_RECOMMEND_EMBEDDER",
        "ORDEROPS_USAGE_MODEL_PRICES",
        "ORDEROPS_RECONCILE_DAYS",
        "ORDEROPS_BOUNCES_WINDOW_HOURS",
    ):
        assert expected in variables


def test_the_command_prints_the_same_markdown() -> None:
    answer = CliRunner().invoke(cli, ["settings", "--markdown"], env={"COLUMNS": "200"})

    assert answer.exit_code == 0
    assert answer.stdout.strip() == markdown_table(setting_rows())
