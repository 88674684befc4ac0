"""How a language model's case summaries fare: the claim checker's verdicts, latency, tokens.

The summaries are asked exactly as the desk asks them (``recommend.summaries.summarize``,
an OpenAI-compatible chat call with a JSON-schema answer) about a small fixed set of cases
built here from facts alone (no database). The model is either recorded answers replayed
by the local sandbox (``sandbox/llm.py``; the default, no network) or any endpoint given,
such as a small local model. A recorded answer may carry a ``label``; one starting with
``faithful`` is one the checker should pass, any other one it should block, so the figures
include how often the checker judged the recordings as labelled.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from orderops.domain.cases import ExceptionType
from orderops.recommend.facts import CaseFacts
from orderops.recommend.llm import LlmClient, LlmSettings
from orderops.recommend.summaries import CaseSummary, summarize
from orderops.sandbox.llm import LlmSandbox, Recorded, load_recorded
from orderops.sandbox.runner import run_sandbox

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
_TYPES = (
    ExceptionType.SHIPMENT_LATE,
    ExceptionType.PRE_DISPATCH_DELAY,
    ExceptionType.PAYMENT_FAILED,
    ExceptionType.CUSTOMER_CHASING,
)


def eval_cases(count: int) -> list[CaseFacts]:
    """``count`` small cases with different types, amounts and days (deterministic)."""
    return [
        CaseFacts(
            exception_type=_TYPES[i % len(_TYPES)],
            order_ref=f"o-eval-{i}",
            order_number=str(2001 + i),
            currency="USD",
            total_minor=2599 + 1350 * i,
            placed_at=NOW - timedelta(days=6 + i % 5),
            now=NOW,
            promised_by=NOW - timedelta(days=1 + i % 3),
            case_id=f"c-eval-{i}",
        )
        for i in range(count)
    ]


@dataclass
class Outcome:
    label: str | None
    summary: CaseSummary


@dataclass
class ModelOutputEvaluation:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def answered(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.summary.model_check is not None]

    @property
    def passed_share(self) -> float | None:
        answered = self.answered
        if not answered:
            return None
        passed = sum(1 for o in answered if o.summary.model_check and o.summary.model_check.passed)
        return passed / len(answered)

    @property
    def judged_as_labelled(self) -> tuple[int, int]:
        """(verdicts matching the label, labelled answers)."""
        labelled = [o for o in self.answered if o.label]
        right = sum(
            1
            for o in labelled
            if o.summary.model_check is not None
            and o.summary.model_check.passed == str(o.label).startswith("faithful")
        )
        return right, len(labelled)

    def to_json(self) -> dict[str, Any]:
        answered = self.answered
        seconds = [o.summary.seconds for o in answered if o.summary.seconds is not None]
        prompt = sum(o.summary.usage.prompt_tokens for o in answered if o.summary.usage)
        completion = sum(o.summary.usage.completion_tokens for o in answered if o.summary.usage)
        right, labelled = self.judged_as_labelled
        errors = Counter(o.summary.model_error.kind for o in self.outcomes if o.summary.model_error)
        return {
            "asked": len(self.outcomes),
            "answered": len(answered),
            "passed_checker_share": self.passed_share,
            "shown_from_model": sum(1 for o in self.outcomes if o.summary.source == "model"),
            "judged_as_labelled": {"right": right, "labelled": labelled},
            "errors": dict(errors),
            "latency_seconds": {
                "p50": statistics.median(seconds) if seconds else None,
                "max": max(seconds) if seconds else None,
            },
            "tokens": {
                "prompt": prompt,
                "completion": completion,
                "per_answer": (prompt + completion) / len(answered) if answered else None,
            },
            "by_label": {
                label: {
                    "answers": sum(1 for o in answered if o.label == label),
                    "passed": sum(
                        1
                        for o in answered
                        if o.label == label
                        and o.summary.model_check
                        and o.summary.model_check.passed
                    ),
                }
                for label in sorted({str(o.label) for o in answered if o.label})
            },
        }


def _run(settings: LlmSettings, cases: list[CaseFacts], labels: list[str | None]) -> list[Outcome]:
    client = LlmClient(settings)
    try:
        return [
            Outcome(labels[i] if i < len(labels) else None, summarize(f, llm=client, now=NOW))
            for i, f in enumerate(cases)
        ]
    finally:
        client.close()


def evaluate_recorded(
    path: Path, *, cases: int | None = None, replay_latency: bool = False
) -> ModelOutputEvaluation:
    """Replay the recorded answers of ``path`` through the sandbox, one per case (in order,
    round again past the end); ``replay_latency``: wait each answer's recorded time."""
    recorded: list[Recorded] = load_recorded(path)
    if not recorded:
        raise ValueError(f"{path}: no recorded answers")
    count = cases or len(recorded)
    sandbox = LlmSandbox(recorded=recorded, replay_latency=replay_latency)
    labels = [recorded[i % len(recorded)].label for i in range(count)]
    with run_sandbox(sandbox.app()) as url:
        settings = LlmSettings(enabled=True, base_url=f"{url}/v1", model="recorded")
        return ModelOutputEvaluation(_run(settings, eval_cases(count), labels))


def evaluate_endpoint(settings: LlmSettings, *, cases: int) -> ModelOutputEvaluation:
    """Ask a live OpenAI-compatible endpoint (e.g. a small local model) about ``cases``."""
    return ModelOutputEvaluation(_run(settings, eval_cases(cases), []))
