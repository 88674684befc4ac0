"""`orderops eval detectors --tickets`: the ticket classifier on the real labelled reviews.

One table, three columns per class on the same held-out split: the keyword baseline,
the classifier trained on the Olist training split plus the project's seed texts (what
a tenant's own trained model is measured as), and the shipped default (seed only, never
shown an Olist review), with the aim (model >= keyword + 0.1) printed beside the figures.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from orderops.detect.models.csv_source import read_csv_rows
from orderops.detect.models.olist import olist_texts
from orderops.detect.models.ticket_training import TicketEvaluation, evaluate_ticket_classifier
from orderops.detect.ticket_classes import shipped_ticket_classifier

AIM_MARGIN = 0.1


def render_tickets(evaluation: TicketEvaluation, console: Console) -> None:
    table = Table(
        title=(
            f"ticket classifier on olist_classified: {evaluation.train_size} train reviews + "
            f"{evaluation.seed_size} seed texts / {evaluation.test_size} held-out reviews"
        ),
        box=box.SIMPLE_HEAD,
    )
    for column in ("class", "support", "keyword F1", "model F1", "shipped F1"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for s in evaluation.per_class:
        table.add_row(
            str(s.ticket_class), str(s.support), f"{s.baseline_f1:.3f}",
            f"{s.model_f1:.3f}", f"{s.shipped_f1:.3f}",
        )  # fmt: skip
    table.add_row(
        "macro-F1", "", f"{evaluation.baseline_macro_f1:.3f}",
        f"{evaluation.model_macro_f1:.3f}", f"{evaluation.shipped_macro_f1:.3f}",
    )  # fmt: skip
    console.print(table)
    met = evaluation.margin >= AIM_MARGIN
    console.print(
        f"margin model - keyword {evaluation.margin:+.3f} (aim >= +{AIM_MARGIN}: "
        f"{'ok' if met else 'MISSED'}); shipped {evaluation.shipped_version} - keyword "
        f"{evaluation.shipped_macro_f1 - evaluation.baseline_macro_f1:+.3f}; confidence "
        f"floor sends {evaluation.model_floored:.1%} of held-out reviews to other"
    )


def ticket_report(olist: Path, *, console: Console, json_path: Path | None) -> TicketEvaluation:
    evaluation = evaluate_ticket_classifier(
        olist_texts(read_csv_rows(olist)), shipped=shipped_ticket_classifier()
    )
    render_tickets(evaluation, console)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        report = {**asdict(evaluation), "margin": evaluation.margin, "aim_margin": AIM_MARGIN}
        json_path.write_text(json.dumps(report, indent=2, default=str) + "\n", "utf-8")
        console.print(f"results -> {json_path}")
    return evaluation
