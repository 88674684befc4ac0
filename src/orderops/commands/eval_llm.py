"""`orderops eval llm`: the language model's case summaries against the claim checker.

Replays a recorded-response fixture through the local OpenAI-compatible sandbox (no
network), or asks a live endpoint (``--base-url``, e.g. a small local model), and prints
the share of summaries passing the claim checker, latency and tokens
(``evaluation/model_outputs.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

console = Console()


def register_llm(eval_cli: typer.Typer) -> None:
    """Add `eval llm` to the ``eval`` group."""

    @eval_cli.command("llm")
    def eval_llm(
        recorded: Annotated[
            Path | None,
            typer.Option(
                help="A JSONL of recorded answers to replay (e.g. "
                "tests/fixtures/llm/recorded_summaries.jsonl)."
            ),
        ] = None,
        base_url: Annotated[
            str | None,
            typer.Option(help="Instead: a live OpenAI-compatible endpoint, e.g. .../v1."),
        ] = None,
        model: Annotated[str, typer.Option(help="(with --base-url) The model name.")] = (
            "local-model"
        ),
        cases: Annotated[
            int | None, typer.Option(min=1, max=1000, help="Cases to summarise.")
        ] = None,
        replay_latency: Annotated[
            bool, typer.Option(help="(recorded) Wait each answer's recorded latency.")
        ] = False,
        timeout: Annotated[float, typer.Option(min=0.1, help="(with --base-url) Seconds.")] = (
            30.0
        ),
        json_path: Annotated[
            Path | None, typer.Option("--json", help="Also write the figures here.")
        ] = None,
    ) -> None:
        """Case summaries by a language model: share passing the claim checker, latency,
        tokens."""
        from orderops.evaluation.model_outputs import evaluate_endpoint, evaluate_recorded
        from orderops.recommend.llm import LlmSettings

        if (recorded is None) == (base_url is None):
            console.print("give exactly one of --recorded or --base-url", style="red")
            raise typer.Exit(2)
        try:
            if recorded is not None:
                result = evaluate_recorded(recorded, cases=cases, replay_latency=replay_latency)
            else:
                settings = LlmSettings(
                    enabled=True, base_url=str(base_url), model=model, timeout_seconds=timeout
                )
                result = evaluate_endpoint(settings, cases=cases or 8)
        except (OSError, ValueError) as exc:
            console.print(f"cannot evaluate: {exc}", style="red")
            raise typer.Exit(2) from exc
        figures = result.to_json()
        _print(figures)
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(figures, indent=2) + "\n", "utf-8")
            console.print(f"results -> {json_path}")


def _print(figures: dict[str, Any]) -> None:
    share = figures["passed_checker_share"]
    latency, tokens = figures["latency_seconds"], figures["tokens"]
    right = figures["judged_as_labelled"]
    console.print(f"summaries asked: {figures['asked']}, answered: {figures['answered']}")
    console.print(
        "passed the claim checker: "
        + (f"{share:.1%}" if share is not None else "-")
        + f" (shown from the model: {figures['shown_from_model']})"
    )
    if right["labelled"]:
        console.print(f"checker verdict as labelled: {right['right']}/{right['labelled']}")
    for label, row in figures["by_label"].items():
        console.print(f"  {label}: {row['passed']}/{row['answers']} passed")
    if figures["errors"]:
        console.print(f"model errors: {figures['errors']}")
    if latency["p50"] is not None:
        console.print(f"latency: p50 {latency['p50']:.3f} s, max {latency['max']:.3f} s")
    per = tokens["per_answer"]
    console.print(
        f"tokens: prompt {tokens['prompt']}, completion {tokens['completion']}"
        + (f", {per:.0f} per answer" if per is not None else "")
    )
