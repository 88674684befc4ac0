"""``python -m orderops.detect.models.evaluate``: measure both models on real data.

Prints one table per model and writes the figures as JSON, so the numbers quoted
in docs and reviews can be reproduced with one command. Data paths default to the
copies under ``tests/fixtures/datasets`` of a source checkout (they are not
shipped in the package: the Olist set is non-commercial).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from orderops.detect.models.csv_source import read_csv_rows
from orderops.detect.models.dataco import dataco_records
from orderops.detect.models.delay_evaluation import (
    AIM_AUC_GAP,
    CARRIER_EDD,
    REFERENCE_ONLY,
    DelayEvaluation,
    evaluate_delay_model,
)
from orderops.detect.models.olist import olist_records, olist_texts
from orderops.detect.models.text_evaluation import TextEvaluation, evaluate_text_classifier

DATASETS = Path("tests/fixtures/datasets")
DATACO = DATASETS / "dataco_supply_chain" / "dataco_shipping_columns.csv"
OLIST = DATASETS / "olist_classified" / "olist_classified_columns.csv"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:7.1f}"


def _label(name: str) -> str:
    return f"{name} (ref)" if name in REFERENCE_ONLY else name


def delay_table(evaluation: DelayEvaluation) -> str:
    lines = [
        f"Delay model on {evaluation.dataset}: time split at {evaluation.cutoff:%Y-%m-%d}, "
        f"{evaluation.train_shipments} train / {evaluation.test_shipments} test shipments "
        f"({evaluation.test_late} late), {evaluation.test_snapshots} pre-promise snapshots, "
        f"model {evaluation.model_version}",
        f"{'detector':<20}{'thr':>8}{'AUC':>7}{'prec':>7}{'recall':>8}{'early P':>9}"
        f"{'early R':>9}{'flagged':>9}{'median lead h':>15}{'mean lead h':>13}",
    ]
    for r in evaluation.results:
        lines.append(
            f"{_label(r.name):<20}{r.threshold:>8.3f}{r.auc:>7.3f}{r.precision:>7.3f}{r.recall:>8.3f}"
            f"{r.early_precision:>9.3f}{r.early_recall:>9.3f}{r.flagged:>9}"
            f"{_hours(r.median_lead_time_hours):>15}{_hours(r.mean_lead_time_hours):>13}"
        )
    names = {r.name for r in evaluation.results}
    if CARRIER_EDD not in names:
        lines.append(f"{CARRIER_EDD}: not given in this data set")
    best = evaluation.best_baseline()
    verdict = "ok" if evaluation.auc_gap >= AIM_AUC_GAP else "MISSED"
    lines.append(
        f"AUC gap to the best real baseline ({best.name}): {evaluation.auc_gap:+.3f} "
        f"(aim >= +{AIM_AUC_GAP:.2f}: {verdict}); past_promise is a reference only "
        "(AUC 0.5 by construction)"
    )
    return "\n".join(lines)


def text_table(evaluation: TextEvaluation) -> str:
    lines = [
        f"Text classifier on olist_classified: {evaluation.train_size} train / "
        f"{evaluation.test_size} held-out reviews",
        f"{'topic':<28}{'support':>8}{'model F1':>10}{'keyword F1':>12}",
    ]
    for score in evaluation.per_topic:
        lines.append(
            f"{score.topic:<28}{score.support:>8}{score.model_f1:>10.3f}{score.baseline_f1:>12.3f}"
        )
    lines.append(
        f"{'macro-F1':<36}{evaluation.model_macro_f1:>10.3f}{evaluation.baseline_macro_f1:>12.3f}"
        f"   margin {evaluation.margin:+.3f}"
    )
    return "\n".join(lines)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dataco", type=Path, default=DATACO)
    parser.add_argument("--olist", type=Path, default=OLIST)
    parser.add_argument("--json", type=Path, default=Path("eval-models.json"))
    args = parser.parse_args(argv)

    dataco = evaluate_delay_model(
        dataco_records(read_csv_rows(args.dataco)), dataset="dataco", step=timedelta(hours=12)
    )
    olist_rows = read_csv_rows(args.olist)
    olist = evaluate_delay_model(
        olist_records(olist_rows), dataset="olist", step=timedelta(hours=24)
    )
    text = evaluate_text_classifier(olist_texts(olist_rows))

    print(delay_table(dataco), end="\n\n")
    print(delay_table(olist), end="\n\n")
    print(text_table(text))
    report = {
        "delay": [
            {**asdict(e), "best_baseline": e.best_baseline().name, "auc_gap": e.auc_gap}
            for e in (dataco, olist)
        ],
        "text": {**asdict(text), "margin": text.margin},
    }
    args.json.write_text(json.dumps(_jsonable(report), indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
