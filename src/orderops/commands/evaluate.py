"""`orderops eval detectors`: every detector on simulated ground truth, plus both models on
real data, with the aims printed beside the figures and the whole result as JSON.

The real-data sets are the column subsets kept under ``tests/fixtures/datasets`` of a
checkout (found next to the source tree, else under the working directory, else at
``--datasets``); they are not shipped in the package because the Olist set is licensed
for non-commercial use only.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from orderops.commands.eval_llm import register_llm
from orderops.commands.shared import command_group

if TYPE_CHECKING:
    from orderops.evaluation.detectors import SimEvaluation

# The evaluation (simulator, pipeline, models) is imported when the command runs, so that
# `orderops --help` does not load it.

console = Console()
AIM_TEXT_MARGIN = 0.1
DATASETS = Path("tests") / "fixtures" / "datasets"
DATACO = Path("dataco_supply_chain") / "dataco_shipping_columns.csv"
OLIST = Path("olist_classified") / "olist_classified_columns.csv"


def find_datasets(given: Path | None) -> Path | None:
    """The datasets folder: ``given``, else the checkout's, else the working directory's."""
    candidates = [given] if given else []
    candidates += [Path(__file__).resolve().parents[3] / DATASETS, Path.cwd() / DATASETS]
    return next((c for c in candidates if (c / DATACO).exists() and (c / OLIST).exists()), None)


def model_figures(datasets: Path) -> dict[str, Any]:
    """The delay model and the text classifier on the real-data copies."""
    from orderops.detect.models.csv_source import read_csv_rows
    from orderops.detect.models.dataco import dataco_records
    from orderops.detect.models.delay_evaluation import AIM_AUC_GAP, evaluate_delay_model
    from orderops.detect.models.olist import olist_records, olist_texts
    from orderops.detect.models.text_evaluation import evaluate_text_classifier

    dataco = evaluate_delay_model(
        dataco_records(read_csv_rows(datasets / DATACO)), dataset="dataco", step=timedelta(hours=12)
    )
    olist_rows = read_csv_rows(datasets / OLIST)
    olist = evaluate_delay_model(
        olist_records(olist_rows), dataset="olist", step=timedelta(hours=24)
    )
    text = evaluate_text_classifier(olist_texts(olist_rows))
    delay = []
    for evaluation in (dataco, olist):
        results = {r.name: r for r in evaluation.results}
        model = results.pop("delay_model")
        # The best *real* rule: past_promise scores AUC 0.5 by construction (reference only).
        best_rule = evaluation.best_baseline()
        delay.append(
            {
                "dataset": evaluation.dataset,
                "model_auc": model.auc,
                "model_median_lead_hours": model.median_lead_time_hours,
                "best_rule": best_rule.name,
                "rule_auc": best_rule.auc,
                "rule_median_lead_hours": best_rule.median_lead_time_hours,
                "auc_gap": evaluation.auc_gap,
                "meets_auc_gap_aim": evaluation.auc_gap >= AIM_AUC_GAP,
                "beats_rule": model.auc > best_rule.auc
                and (model.median_lead_time_hours or 0) > (best_rule.median_lead_time_hours or 0),
                "detail": json.loads(json.dumps(asdict(evaluation), default=str)),
            }
        )
    return {
        "delay": delay,
        "text": {
            "model_macro_f1": text.model_macro_f1,
            "baseline_macro_f1": text.baseline_macro_f1,
            "margin": text.margin,
            "meets_aim": text.margin >= AIM_TEXT_MARGIN,
        },
    }


def _num(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render_sim(result: SimEvaluation) -> None:
    from orderops.evaluation.detectors import AIM_PRECISION, MODEL_TYPES, RATE_PRESETS

    for rate, scores in result.per_rate.items():
        table = Table(
            title=f"detectors on simulated ground truth, rate {rate} ({RATE_PRESETS[rate]}), "
            f"seeds {', '.join(map(str, result.seeds))}",
            box=box.SIMPLE_HEAD,
        )
        for column in (
            "type",
            "labels",
            "cases",
            "hit",
            "precision",
            "recall",
            "F1",
            "lead h",
            "aim",
        ):
            table.add_column(column, justify="left" if column in ("type", "aim") else "right")
        for kind, s in sorted(scores.items()):
            model = kind in MODEL_TYPES
            aim = "beat the late rule's lead" if model else f"P,R >= {AIM_PRECISION}"
            met = (s.median_lead_hours or -1e9) > 0 if model else s.meets_aims()
            table.add_row(
                kind, str(s.labels), str(s.cases), str(s.matched),
                _num(s.precision), _num(s.recall), _num(s.f1), _num(s.median_lead_hours, 1),
                f"{aim} {'ok' if met else 'MISSED'}",
            )  # fmt: skip
        console.print(table)


def render_models(figures: dict[str, Any]) -> None:
    table = Table(title="models on real data", box=box.SIMPLE_HEAD)
    for column in ("data", "model AUC", "rule", "rule AUC", "model lead h", "rule lead h", "aim"):
        table.add_column(column)
    table.add_column("AUC gap (aim +0.05)")
    for d in figures["delay"]:
        table.add_row(
            d["dataset"], _num(d["model_auc"]), d["best_rule"], _num(d["rule_auc"]),
            _num(d["model_median_lead_hours"], 1), _num(d["rule_median_lead_hours"], 1),
            "beat the better rule on AUC and lead: " + ("ok" if d["beats_rule"] else "MISSED"),
            f"{d['auc_gap']:+.3f} " + ("ok" if d["meets_auc_gap_aim"] else "MISSED"),
        )  # fmt: skip
    text = figures["text"]
    console.print(table)
    console.print(
        f"text classifier macro-F1 {text['model_macro_f1']:.3f} vs keyword baseline "
        f"{text['baseline_macro_f1']:.3f} (margin {text['margin']:+.3f}; "
        f"aim >= +{AIM_TEXT_MARGIN}: "
        f"{'ok' if text['meets_aim'] else 'MISSED'})"
    )


class Through(StrEnum):
    PIPELINE = "pipeline"
    WEBHOOKS = "webhooks"


PIPELINE_ORDERS_PER_DAY = 40
WEBHOOK_ORDERS_PER_DAY = 60


def through_webhooks(
    *,
    from_dir: Path | None,
    seed: int,
    days: float,
    orders_per_day: int,
    database_url: str | None,
    json_path: Path | None,
) -> bool:
    """Replay a recorded (or freshly simulated) store into a live desk; True if every aim
    was met. Bad input is refused with its reasons before anything is posted."""
    from rich.progress import Progress

    from orderops.evaluation.desk import DatabaseNotFresh
    from orderops.evaluation.history import HistoryError, read_history
    from orderops.evaluation.report import render, write_json
    from orderops.evaluation.simulated import simulated_store
    from orderops.evaluation.webhook_replay import evaluate_history

    try:
        with simulated_store(
            from_dir, seed=seed, days=days, orders_per_day=orders_per_day, console=console
        ) as folder:
            history = read_history(folder)
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("posting deliveries", total=len(history.deliveries))
                evaluation = evaluate_history(
                    history,
                    database_url=database_url,
                    progress=lambda done, _total: progress.update(task, completed=done),
                )
    except (HistoryError, DatabaseNotFresh) as exc:
        console.print(f"cannot evaluate: {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(2) from exc
    render(evaluation, console)
    if json_path is not None:
        write_json(evaluation, json_path)
        console.print(f"results -> {json_path}")
    return evaluation.all_aims_met


def register(cli: typer.Typer) -> None:
    """Add `eval detectors` to ``cli``."""
    eval_cli = command_group(cli, "eval", "Measure the desk's models against ground truth.")
    register_llm(eval_cli)  # eval llm (commands/eval_llm.py)

    @eval_cli.command("detectors")
    def eval_detectors(
        seeds: Annotated[int, typer.Option(help="How many seeds (1..N).")] = 3,
        rates: Annotated[
            str, typer.Option(help="Comma-separated presets: low, high.")
        ] = "low,high",
        orders_per_day: Annotated[
            int | None,
            typer.Option(help="Simulated orders per day (default 40; 60 through webhooks)."),
        ] = None,
        step_hours: Annotated[float, typer.Option(help="Sweep clock step.")] = 1.0,
        datasets: Annotated[
            Path | None, typer.Option(help="Folder with the real-data copies.")
        ] = None,
        models: Annotated[bool, typer.Option(help="Also measure the models on real data.")] = True,
        json_path: Annotated[
            Path | None, typer.Option("--json", help="Write results here.")
        ] = None,
        through: Annotated[
            Through,
            typer.Option(
                help="pipeline: canonical events straight into the pipeline; webhooks: the "
                "providers' own deliveries, signed, over HTTP to a freshly booted desk."
            ),
        ] = Through.PIPELINE,
        from_dir: Annotated[
            Path | None,
            typer.Option(
                "--from",
                help="(webhooks) A recorded store: deliveries.jsonl, labels.jsonl, "
                "policy.yaml, store.json. Default: simulate one.",
            ),
        ] = None,
        seed: Annotated[int, typer.Option(help="(webhooks) Simulator seed.")] = 7,
        days: Annotated[float, typer.Option(help="(webhooks) Simulated days.")] = 10.0,
        database_url: Annotated[
            str | None,
            typer.Option(
                help="(webhooks) An empty database for the desk (e.g. PostgreSQL); "
                "default a temporary SQLite file."
            ),
        ] = None,
        require_aims: Annotated[
            bool, typer.Option(help="(webhooks) Exit 1 when any aim is missed.")
        ] = False,
        tickets: Annotated[
            bool,
            typer.Option(
                "--tickets",
                help="Only the ticket classifier on the real labelled reviews, beside the "
                "keyword baseline (no simulation).",
            ),
        ] = False,
    ) -> None:
        """Score every detector on simulated ground truth: canonical events through the
        pipeline with hourly sweeps, or (``--through webhooks``) provider deliveries posted
        to a live desk. A measurement: exit 0 even when aims are missed, unless
        ``--require-aims``."""
        from orderops.config import Settings
        from orderops.evaluation.detectors import RATE_PRESETS, evaluate_detectors

        if tickets:
            from orderops.evaluation.ticket_report import ticket_report

            folder = find_datasets(datasets)
            if folder is None:
                console.print("real-data copies not found: pass --datasets", style="red")
                raise typer.Exit(2)
            ticket_report(folder / OLIST, console=console, json_path=json_path)
            return
        if through is Through.PIPELINE and (from_dir or database_url or require_aims):
            raise typer.BadParameter(
                "--from, --database-url and --require-aims go with --through webhooks"
            )
        if through is Through.WEBHOOKS:
            met = through_webhooks(
                from_dir=from_dir,
                seed=seed,
                days=days,
                orders_per_day=orders_per_day or WEBHOOK_ORDERS_PER_DAY,
                database_url=database_url,
                json_path=json_path,
            )
            if require_aims and not met:
                raise typer.Exit(1)
            return
        orders_per_day = orders_per_day or PIPELINE_ORDERS_PER_DAY
        names = [r.strip() for r in rates.split(",") if r.strip()]
        unknown = [n for n in names if n not in RATE_PRESETS]
        if unknown:
            raise typer.BadParameter(
                f"unknown rate preset(s) {unknown}; use {sorted(RATE_PRESETS)}"
            )
        settings = Settings(demo_mode=True)
        result = evaluate_detectors(
            seeds=range(1, seeds + 1),
            rates=names,
            orders_per_day=orders_per_day,
            step=timedelta(hours=step_hours),
            models_dir=settings.data_dir / "models",
        )
        render_sim(result)
        report: dict[str, Any] = {"simulation": result.to_json()}
        if models:
            folder = find_datasets(datasets)
            if folder is None:
                console.print("real-data copies not found: pass --datasets (skipped)")
            else:
                figures = model_figures(folder)
                render_models(figures)
                report["models"] = figures
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(report, indent=2, default=str) + "\n", "utf-8")
            console.print(f"results -> {json_path}")
