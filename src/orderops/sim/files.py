"""Writing and reading a simulation run as JSON Lines (the only I/O in the simulator).

One event or label per line, keys in a fixed order, so two runs of the same seed give
byte-identical files that ``diff`` and ``sha256sum`` can compare.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderops.domain.cases import ExceptionType
from orderops.sim.labels import Label
from orderops.sim.review_time import judged_at_review
from orderops.sim.reviewer import review

if TYPE_CHECKING:
    from orderops.sim.runner import SimResult

EVENTS_FILE = "events.jsonl"
LABELS_FILE = "labels.jsonl"
IDENTITIES_FILE = "identities.jsonl"


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_sim(result: SimResult, out_dir: Path) -> tuple[Path, Path]:
    """Write ``events.jsonl``, ``labels.jsonl`` and ``identities.jsonl`` into ``out_dir``.

    Returns the events and labels paths (the identities file sits beside them, named
    ``IDENTITIES_FILE``), as callers written before identities expect.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    events_path, labels_path = out_dir / EVENTS_FILE, out_dir / LABELS_FILE
    events_path.write_text("".join(_dump(event) + "\n" for event in result.events), "utf-8")
    # Each label carries the simulated human reviewer's resolution (sim.reviewer), judged
    # when the desk would look at it (sim.review_time): the independent reference
    # recommendations are scored on.
    decisions = judged_at_review(
        result.events,
        result.labels,
        lambda known, labels, at: review(known, labels, decide_at=at),
        end=result.config.end,
    )
    labels_path.write_text(
        "".join(
            _dump(
                {
                    "type": d.label.type.value,
                    "order_ref": d.label.order_ref,
                    "at": d.label.at.isoformat(),
                    "reviewer_action": d.action,
                    "reviewer_why": d.why,
                }
            )
            + "\n"
            for d in decisions
        ),
        "utf-8",
    )
    (out_dir / IDENTITIES_FILE).write_text(
        "".join(
            _dump({"customer_ref": ref, "person": person}) + "\n"
            for ref, person in result.identities.items()
        ),
        "utf-8",
    )
    return events_path, labels_path


def read_labels(path: Path) -> list[Label]:
    labels = []
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            labels.append(
                Label(
                    ExceptionType(raw["type"]), raw["order_ref"], datetime.fromisoformat(raw["at"])
                )
            )
    return labels


def read_identities(path: Path) -> dict[str, str]:
    """``identities.jsonl`` back as customer ref -> person id."""
    identities: dict[str, str] = {}
    for line in path.read_text("utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            identities[raw["customer_ref"]] = raw["person"]
    return identities


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of ``events.jsonl`` as decoded dicts, ready for ``parse_event``."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
