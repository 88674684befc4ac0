"""`orderops backtest`: replay a tenant's recorded window under a candidate policy.

``--candidate FILE`` is a YAML file with any of the sections ``fulfillment_policy``,
``routing_rules``, ``approval_policy`` and ``playbook`` (workflow/candidate_policy.py);
a section left out is the live one. The window is ``--from`` (inclusive) to ``--to``
(exclusive); a bare date is midnight UTC, so ``--from 2026-11-01 --to 2026-11-08`` is
one week. The report is printed (``--json`` for one JSON document) and stored as a
``backtest_runs`` row, audited as ``cli``. A candidate file that is not valid, too big or
unreadable, or a window that is not one, is one ``error:`` line and exit code 2, before
anything is replayed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands.errors import SetupProblem
from orderops.commands.shared import (
    AppFactory,
    JsonOpt,
    TenantOpt,
    default_app,
    opened_app,
    print_json,
)

if TYPE_CHECKING:
    from orderops.workflow.candidate_policy import CandidatePolicy

console = Console()
ACTOR = "cli"


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add `backtest` to ``cli``."""

    @cli.command("backtest")
    def backtest(
        tenant: TenantOpt,
        start: Annotated[str, typer.Option("--from", help="Window start (ISO date or time).")],
        end: Annotated[str, typer.Option("--to", help="Window end, exclusive (ISO).")],
        candidate: Annotated[Path, typer.Option("--candidate", help="Candidate policy YAML file.")],
        sweep_minutes: Annotated[
            int, typer.Option("--sweep-minutes", min=5, max=1440, help="Sweep interval.")
        ] = 60,
        tick_minutes: Annotated[
            int,
            typer.Option(
                "--tick-minutes",
                min=1,
                max=1440,
                help="Events received within one are fed together.",
            ),
        ] = 5,
        as_json: JsonOpt = False,
    ) -> None:
        """Replay the window under the live policy and under the candidate; report the
        difference."""
        from orderops.workflow.backtest import InvalidWindow, check_window, run_backtest
        from orderops.workflow.backtest_replay import Pace

        policy = read_candidate(candidate)
        window = (_moment(start, "--from"), _moment(end, "--to"))
        try:
            check_window(*window)
            pace = Pace(
                sweep_every=timedelta(minutes=sweep_minutes), tick=timedelta(minutes=tick_minutes)
            )
        except (ValueError, InvalidWindow) as exc:
            raise SetupProblem(str(exc)) from exc
        with opened_app(make_app, console, tenant=tenant, signs=True) as app:
            outcome = run_backtest(
                app,
                tenant_id=tenant,
                start=window[0],
                end=window[1],
                candidate=policy,
                actor=ACTOR,
                pace=pace,
            )
        if as_json:
            print_json(
                {"id": outcome.run_id, "report": outcome.report, "policy_diff": outcome.policy_diff}
            )
            return
        render(outcome.run_id, outcome.report, outcome.policy_diff)


def read_candidate(path: Path) -> CandidatePolicy:
    """The parsed candidate, or one configuration error line naming the file."""
    from orderops.domain.policy import InvalidPolicy
    from orderops.workflow.candidate_policy import MAX_CANDIDATE_BYTES, parse_candidate

    try:
        if path.stat().st_size > MAX_CANDIDATE_BYTES:
            raise SetupProblem(f"candidate {path}: larger than {MAX_CANDIDATE_BYTES} bytes")
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupProblem(f"candidate {path}: cannot be read: {exc}") from exc
    try:
        return parse_candidate(text)
    except InvalidPolicy as exc:
        raise SetupProblem(f"candidate {path}: {exc}") from exc


def _moment(text: str, option: str) -> datetime:
    from orderops.workflow.backtest import InvalidWindow
    from orderops.workflow.backtest_requests import moment

    try:
        return moment(text, option)
    except InvalidWindow as exc:
        raise SetupProblem(str(exc)) from exc


def render(run_id: str | None, report: dict[str, Any], diff: list[dict[str, Any]]) -> None:
    """The report as rich tables: the same numbers as ``--json``."""
    window = report["window"]
    console.print(
        f"Backtest {run_id or '(not stored)'}: {window['from']} .. {window['to']}, "
        f"{report['events']} events, {report['policy_changes']} policy change(s), "
        f"{report['changed_cases']} changed case(s), {report['seconds']} s"
    )
    console.print(_side_by_side("Cases", report["cases"], ("opened", "closed")))
    console.print(_pairs("Median minutes to detection", report["time_to_detection_minutes"]))
    console.print(_pairs("Approvals", _flat(report["approvals"])))
    console.print(_pairs("Money (minor units)", _flat(report["money_minor"])))
    console.print(_pairs("Customers", report["customers"]))
    console.print(_pairs("Queue load (cases per queue and hour)", _flat(report["queue_load"])))
    examples = Table(title="Changed cases (examples)")
    for column in ("change", "order", "type", "live", "candidate"):
        examples.add_column(column)
    for kind, items in report["changed"]["examples"].items():
        for item in items:
            examples.add_row(
                kind,
                item["order_ref"],
                item["type"],
                _brief(item["live"]),
                _brief(item["candidate"]),
            )
    console.print(examples)
    changes = Table(title="Policy diff")
    for column in ("path", "live", "candidate"):
        changes.add_column(column, overflow="fold")
    for change in diff:
        changes.add_row(change["path"], repr(change["before"]), repr(change["after"]))
    console.print(changes)


def _side_by_side(
    title: str, sides: dict[str, dict[str, dict[str, int]]], measures: tuple[str, ...]
) -> Table:
    table = Table(title=title)
    table.add_column("type")
    for measure in measures:
        table.add_column(f"{measure} live", justify="right")
        table.add_column(f"{measure} candidate", justify="right")
    for name in sorted(sides["live"].keys() | sides["candidate"].keys()):
        live, cand = sides["live"].get(name, {}), sides["candidate"].get(name, {})
        cells = [str(side.get(m, 0)) for m in measures for side in (live, cand)]
        table.add_row(name, *cells)
    return table


def _pairs(title: str, sides: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in ("measure", "live", "candidate"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for name in sorted(sides["live"].keys() | sides["candidate"].keys()):
        table.add_row(
            name, str(sides["live"].get(name, "-")), str(sides["candidate"].get(name, "-"))
        )
    return table


def _flat(sides: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Nested measures as dotted names, so one two-column table shows them."""

    def flat(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out |= flat(item, name) if isinstance(item, dict) else {name: item}
        return out

    return {side: flat(value) for side, value in sides.items()}


def _brief(case: dict[str, Any] | None) -> str:
    if case is None:
        return "-"
    return f"{case['status']} in {case['queue']} ({case['priority']}), opened {case['opened_at']}"
