"""Train the shipped default ticket classifier: ``python scripts/train_ticket_classifier.py``.

Reads ``src/orderops/detect/models/shipped/ticket_seed.jsonl`` (texts written for this
project, Apache-2.0) and writes ``shipped/ticket_class.skops`` beside it (skops, no
pickle). Reproducible: the same seed file gives the same version name and predictions.
Nothing from the Olist reviews (CC BY-NC-SA 4.0) goes into it; they only evaluate
(`orderops eval detectors --tickets`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from orderops.detect.models.ticket_training import SHIPPED_MODEL_PATH, read_seed, train_shipped


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else SHIPPED_MODEL_PATH
    seed = read_seed()
    model = train_shipped(seed)
    model.save(target)
    print(
        f"wrote {target} ({target.stat().st_size:,} bytes): {model.card.version}, "
        f"{model.card.examples} examples, licence {model.card.licence}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
