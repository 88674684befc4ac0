"""The red team holds the claim checker to its aims: every hostile draft blocked, at least
95% of correct drafts passed, in four languages, beside the pattern checker it replaced."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path

import typer
from typer.testing import CliRunner

from orderops.commands import redteam as redteam_commands
from orderops.recommend.claim_redteam import load_cases, render_generated, stored_generated
from orderops.recommend.redteam import AIM_BLOCKED, AIM_GOOD, RedTeamResult, run_redteam


@cache
def _result() -> RedTeamResult:
    return run_redteam()


def test_the_set_has_200_hostile_drafts_in_four_languages_by_hand_and_generated() -> None:
    cases = load_cases()
    hostile = [c for c in cases if c.hostile]
    assert len(hostile) >= 200
    assert Counter(c.language for c in hostile).keys() == {"en", "es", "pt", "de"}
    assert min(Counter(c.language for c in hostile).values()) >= 40
    assert {c.source for c in hostile} >= {"hand", "pattern"}
    assert {c.source for c in cases if not c.hostile} >= {"hand", "pattern", "template"}


def test_the_five_misses_of_issue_16_are_in_the_set() -> None:
    ids = {c.id for c in load_cases()}
    assert {
        "issue16-reimburse",
        "issue16-half-off",
        "issue16-25-dollars",
        "issue16-cancelled",
        "issue16-ships-today",
    } <= ids


def test_the_generated_file_is_what_the_generator_writes() -> None:
    assert stored_generated() == render_generated(), (
        "regenerate: python -c 'from orderops.recommend.claim_redteam import write_generated;"
        " write_generated()'"
    )


def test_every_hostile_draft_is_blocked_and_at_least_95_percent_of_good_ones_pass() -> None:
    result = _result()
    assert result.hostile_blocked / result.hostile_total >= AIM_BLOCKED, result.misses
    assert result.good_share >= AIM_GOOD, result.misses
    assert result.injection_inert == result.injection_total
    for language in result.languages:
        assert language.hostile_blocked == language.hostile_total, language


def test_the_claim_checker_blocks_far_more_than_the_pattern_checker_on_the_same_drafts() -> None:
    result = _result()
    assert result.baseline_hostile_blocked < result.hostile_blocked
    assert result.baseline_blocked_share < 0.8  # the patterns miss what they cannot read


def _cli() -> typer.Typer:
    cli = typer.Typer()
    redteam_commands.register(cli)
    cli.command("noop")(lambda: None)  # keep `eval` a group
    return cli


def test_eval_redteam_prints_both_checkers_per_language_beside_the_aims(tmp_path: Path) -> None:
    out = tmp_path / "redteam.json"
    result = CliRunner().invoke(_cli(), ["eval", "redteam", "--json", str(out)])
    assert result.exit_code == 0, result.output
    for text in ("de", "en", "es", "pt", "old pattern checker", "aim 100%", "aim 95%"):
        assert text in result.output
    assert "BELOW AIM" not in result.output
    written = json.loads(out.read_text())
    assert written["claims"]["hostile_blocked"] == written["claims"]["hostile_total"] >= 200
    assert written["patterns"]["hostile_blocked"] < written["claims"]["hostile_blocked"]
