"""Reading the CSV data sets: the only file I/O of the models package.

Kept apart so adapters stay pure functions of rows (testable with literal dicts).
"""

from __future__ import annotations

import csv
from pathlib import Path


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
