"""The webhook evaluation as a reader meets it: each figure printed beside its aim, with a
plain MET or MISSED, and the same content as JSON for comparing runs."""

from __future__ import annotations

import json
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from orderops.evaluation.scoring import AIM_LINK_PASSES, AIM_PRECISION, AIM_RECALL, TypeScore
from orderops.evaluation.webhook_replay import WebhookEvaluation

MET, MISSED = "MET", "MISSED"


def verdict(met: bool) -> str:
    return MET if met else MISSED


def render(evaluation: WebhookEvaluation, console: Console) -> None:
    console.print(type_table(evaluation))
    noise = noise_line(evaluation)
    if noise:
        console.print(noise, highlight=False)
    replay = evaluation.replay
    refused = replay.refusals.total
    per_provider = ", ".join(f"{p} {n}" for p, n in sorted(replay.posted.items()))
    console.print(
        f"deliveries posted {evaluation.posted} ({per_provider}); valid deliveries refused "
        f"{refused} (aim 0: {verdict(refused == 0)})",
        highlight=False,
    )
    if refused:
        console.print(refusal_table(evaluation))
    history = evaluation.history
    if history.reordered or history.merged_labels:
        console.print(
            f"input: {history.reordered} deliveries put back in time order, "
            f"{history.merged_labels} repeated labels merged",
            highlight=False,
        )
    console.print(
        f"worker passes {len(replay.passes)}; inbox rows still deferred at the end "
        f"{_counted(evaluation.deferred)}; failed {_counted(evaluation.failed)}",
        highlight=False,
    )
    console.print(
        f"link suggestions opened {_counted(evaluation.suggestions)}; "
        f"records linked {_counted(evaluation.links)}",
        highlight=False,
    )
    latency = evaluation.latency
    if latency.records:
        console.print(
            f"records that arrived before their order: {latency.records}, linked within "
            f"{AIM_LINK_PASSES} worker pass of the order's arrival {latency.within_aim}, "
            f"at most {latency.max_passes} passes (aim: all within {AIM_LINK_PASSES}: "
            f"{verdict(latency.meets_aim)})",
            highlight=False,
        )
    else:
        console.print("records that arrived before their order and were linked: none")
    console.print(
        f"all aims: {verdict(evaluation.all_aims_met)}",
        style="bold" if evaluation.all_aims_met else "bold red",
    )


def type_table(evaluation: WebhookEvaluation) -> Table:
    store = evaluation.history.store
    seed = f", seed {store['seed']}" if "seed" in store else ""
    table = Table(
        title=f"detectors through webhooks{seed}: aim per type precision P >= {AIM_PRECISION} "
        f"and recall R >= {AIM_RECALL}",
        caption="every case ever opened counts; lead h: label time minus case opened (median)",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
    )
    table.add_column("type", no_wrap=True)
    for column in ("labels", "cases", "TP", "FP", "FN", "P", "R", "lead h"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("aims", no_wrap=True)
    for _, score in sorted(evaluation.scores.items()):
        table.add_row(*row(score))
    return table


def row(score: TypeScore) -> tuple[str, ...]:
    return (
        score.exception_type,
        str(score.labels),
        str(score.cases),
        str(score.true_positives),
        str(score.false_positives),
        str(score.false_negatives),
        _num(score.precision, 2),
        _num(score.recall, 2),
        _num(score.median_lead_hours, 2),
        verdict(score.meets_aims),
    )


def noise_line(evaluation: WebhookEvaluation) -> str | None:
    """False positives that resolved themselves: noise a reviewer still saw come and go."""
    noise = {
        kind: s.false_positives_resolved
        for kind, s in sorted(evaluation.scores.items())
        if s.false_positives_resolved
    }
    if not noise:
        return None
    return "false positives already resolved automatically: " + ", ".join(
        f"{kind} {count}" for kind, count in noise.items()
    )


def refusal_table(evaluation: WebhookEvaluation) -> Table:
    table = Table(title="valid deliveries refused", box=box.SIMPLE_HEAD)
    for column in ("provider", "answer", "count", "first example"):
        table.add_column(column, overflow="fold")
    for item in evaluation.replay.refusals.to_json():
        table.add_row(item["provider"], item["reason"], str(item["count"]), item["example"])
    return table


def write_json(evaluation: WebhookEvaluation, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(evaluation.to_json(), indent=2, default=str) + "\n", "utf-8")


def _num(value: float | None, digits: int) -> str:
    """Fixed decimals; a value that rounds to zero prints as 0, never as -0."""
    return "-" if value is None else f"{round(value, digits) + 0.0:.{digits}f}"


def _counted(counts: dict[str, int]) -> str:
    """``7 (a 5, b 2)``: the total, then its parts."""
    total = str(sum(counts.values()))
    if not counts:
        return total
    return total + " (" + ", ".join(f"{k} {v}" for k, v in counts.items()) + ")"
