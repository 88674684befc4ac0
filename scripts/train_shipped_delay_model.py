"""Train the shipped default delay model: ``python scripts/train_shipped_delay_model.py``.

Reads the DataCo Smart Supply Chain rows in ``tests/fixtures/datasets`` (CC BY 4.0) and
writes ``src/orderops/detect/models/shipped/delay.skops`` (skops, no pickle) with its card
``delay.card.json`` beside it. Reproducible: the same rows, parameters and scikit-learn
give the same model version and the same scores. Olist (CC BY-NC-SA 4.0) is not used.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from orderops.detect.model_registry_shipped import (
    CARD_PATH,
    SHIPPED_PATH,
    card,
    shipped_records,
    train_shipped,
)

DATASETS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "datasets"


def main(argv: list[str]) -> int:
    datasets = Path(argv[0]) if argv else DATASETS
    records = shipped_records(datasets)
    model = train_shipped(records)
    SHIPPED_PATH.write_bytes(model.to_bytes())
    CARD_PATH.write_text(json.dumps(card(model, records), indent=2) + "\n")
    print(
        f"wrote {SHIPPED_PATH} ({SHIPPED_PATH.stat().st_size:,} bytes): {model.version}, "
        f"threshold {model.threshold}, {len(records)} shipments"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
