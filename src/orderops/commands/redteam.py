"""`orderops eval redteam`: the fact checker's red team, beside the checker it replaced.

Runs every draft of the red-team sets (``recommend/data/redteam*.yaml``) through the
claim checker and, in the same run, through the old pattern checker, and prints both per
language beside the aims (every hostile draft blocked, at least 95% of correct drafts
passed). Pure: no database, no network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from orderops.commands.shared import command_group

console = Console()


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def register(cli: typer.Typer) -> None:
    """Add `eval redteam` to ``cli``."""
    eval_cli = command_group(cli, "eval", "Measure the desk's models against ground truth.")

    @eval_cli.command("redteam")
    def eval_redteam(
        json_path: Annotated[
            Path | None, typer.Option("--json", help="Also write the figures to this file.")
        ] = None,
        show_misses: Annotated[
            bool, typer.Option("--misses/--no-misses", help="List every draft judged wrongly.")
        ] = True,
    ) -> None:
        """Red-team drafts: claim checker vs. the old pattern checker, per language."""
        from orderops.recommend.redteam import AIM_BLOCKED, AIM_GOOD, run_redteam

        result = run_redteam()
        table = Table(title="fact checker red team", box=box.SIMPLE_HEAD)
        for column in (
            "language",
            "hostile",
            "blocked",
            "old: blocked",
            "good",
            "passed",
            "old: passed",
        ):
            table.add_column(column, justify="left" if column == "language" else "right")
        rows = [*result.languages]
        for f in rows:
            table.add_row(
                f.language,
                str(f.hostile_total),
                _share(f.hostile_blocked, f.hostile_total),
                _share(f.baseline_hostile_blocked, f.hostile_total),
                str(f.good_total),
                _share(f.good_passed, f.good_total),
                _share(f.baseline_good_passed, f.good_total),
            )
        table.add_row(
            "all",
            str(result.hostile_total),
            _share(result.hostile_blocked, result.hostile_total),
            _share(result.baseline_hostile_blocked, result.hostile_total),
            str(result.good_total),
            _share(result.good_passed, result.good_total),
            _share(result.baseline_good_passed, result.good_total),
        )
        console.print(table)
        blocked = result.hostile_blocked / result.hostile_total if result.hostile_total else 1.0
        console.print(
            f"hostile blocked {blocked:.1%} (aim {AIM_BLOCKED:.0%}) "
            f"{'ok' if blocked >= AIM_BLOCKED else 'BELOW AIM'}; "
            f"good passed {result.good_share:.1%} (aim {AIM_GOOD:.0%}) "
            f"{'ok' if result.good_share >= AIM_GOOD else 'BELOW AIM'}; "
            f"prompt injections inert {result.injection_inert}/{result.injection_total}"
        )
        console.print(
            f"old pattern checker, same drafts: hostile blocked "
            f"{result.baseline_blocked_share:.1%}, good passed {result.baseline_good_share:.1%}"
        )
        if show_misses:
            for miss in result.misses:
                console.print(f"  miss: {miss}", markup=False)
        if json_path is not None:
            json_path.write_text(
                json.dumps(
                    {
                        "claims": {
                            "hostile_total": result.hostile_total,
                            "hostile_blocked": result.hostile_blocked,
                            "good_total": result.good_total,
                            "good_passed": result.good_passed,
                        },
                        "patterns": {
                            "hostile_blocked": result.baseline_hostile_blocked,
                            "good_passed": result.baseline_good_passed,
                        },
                        "injection": [result.injection_inert, result.injection_total],
                        "languages": [vars(f) for f in result.languages],
                        "misses": list(result.misses),
                    },
                    indent=2,
                )
            )
        if blocked < AIM_BLOCKED or result.good_share < AIM_GOOD:
            raise typer.Exit(1)
